"""The operators' screens in a real browser: Debian's chromium driven by Playwright."""
from pathlib import Path

import pytest

from export.feeds import create_feed
from export.models import CalendarFeed
from export.tests.ical_reader import parse_events
from slots.tests.factories import SlotFactory, SlotGroupFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse battery staple"


def log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def test_staff_log_in_and_find_a_users_slot(browser_page, live_server, screenshot):
    UserFactory(username="operator", is_staff=True, is_superuser=True)
    nora = UserFactory(username="nora")
    SlotFactory(creator=nora, title="Nora's dentist <script>alert(1)</script>")
    SlotFactory(title="Someone else's")
    page = browser_page
    dialogs = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message) or dialog.dismiss())

    log_in(page, live_server, "operator")
    screenshot(page, "admin-index")
    page.goto(f"{live_server.url}/admin/slots/slot/")
    page.fill("#searchbar", "nora")
    page.press("#searchbar", "Enter")
    page.wait_for_load_state()
    screenshot(page, "slot-search")

    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    # The script is text on the page, not a script that ran.
    assert rows.first.inner_text().strip().startswith("Nora's dentist <script>alert(1)</script>")
    assert dialogs == []


def test_a_user_who_is_not_staff_is_refused(browser_page, live_server, screenshot):
    UserFactory(username="nora")
    page = browser_page

    log_in(page, live_server, "nora")
    screenshot(page, "refused")

    assert "/admin/login/" in page.url
    assert "staff account" in page.locator(".errornote").inner_text()
    page.goto(f"{live_server.url}/admin/slots/slot/")
    assert "/admin/login/" in page.url


def test_staff_preview_a_groups_calendar_and_download_it(browser_page, live_server, screenshot):
    UserFactory(username="operator", is_staff=True, is_superuser=True)
    owner = UserFactory(username="nora")
    group = SlotGroupFactory(owner=owner, name="Team <b>offsite</b>")
    inside = SlotFactory(creator=owner, title="Kick-off; goals, budget", groups=[group])
    SlotFactory(creator=owner, title="Not in the group")
    page = browser_page

    log_in(page, live_server, "operator")
    page.goto(f"{live_server.url}/admin/slots/slotgroup/{group.pk}/change/")
    page.click("text=Export preview")
    page.wait_for_load_state()
    screenshot(page, "preview")
    shown = page.locator("#export-preview").inner_text()
    with page.expect_download() as download:
        page.click("#export-download")
    data = Path(download.value.path()).read_bytes()

    assert "SUMMARY:Kick-off\\; goals\\, budget" in shown
    assert "X-WR-CALNAME:Team <b>offsite</b>" in shown
    assert [str(event["UID"]) for event in parse_events(data)] == [str(inside.uuid)]


def test_staff_download_selected_slots_as_a_calendar(browser_page, live_server, screenshot):
    UserFactory(username="operator", is_staff=True, is_superuser=True)
    chosen = [SlotFactory(title="First"), SlotFactory(title="Second")]
    SlotFactory(title="Not chosen")
    page = browser_page

    log_in(page, live_server, "operator")
    page.goto(f"{live_server.url}/admin/slots/slot/")
    for slot in chosen:
        page.check(f"input[name=_selected_action][value='{slot.pk}']")
    page.select_option("select[name=action]", label="Download selected as .ics")
    screenshot(page, "selected")
    with page.expect_download() as download:
        page.click("button[name=index]")
    data = Path(download.value.path()).read_bytes()

    assert sorted(str(event["UID"]) for event in parse_events(data)) == sorted(str(slot.uuid) for slot in chosen)


def test_staff_revoke_a_feed_and_its_url_stops_serving(browser_page, live_server, screenshot):
    UserFactory(username="operator", is_staff=True, is_superuser=True)
    feed, secret = create_feed(owner=UserFactory(username="nora"), group=None)
    page = browser_page
    assert page.request.get(f"{live_server.url}/v1/feeds/{secret}.ics").status == 200

    log_in(page, live_server, "operator")
    page.goto(f"{live_server.url}/admin/export/calendarfeed/")
    screenshot(page, "feeds")
    assert secret not in page.content() and feed.secret_hash not in page.content()
    page.check(f"input[name=_selected_action][value='{feed.pk}']")
    page.select_option("select[name=action]", label="Revoke selected feeds")
    page.click("button[name=index]")
    page.wait_for_load_state()
    screenshot(page, "revoked")

    assert "Revoked 1" in page.locator(".messagelist").inner_text()
    assert not CalendarFeed.objects.exists()
    assert page.request.get(f"{live_server.url}/v1/feeds/{secret}.ics").status == 404


def test_staff_add_a_users_token_pick_the_user_and_copy_the_key_once(browser_page, live_server, screenshot):
    UserFactory(username="operator", is_staff=True, is_superuser=True)
    nora = UserFactory(username="nora")
    UserFactory(username="ines")
    slot = SlotFactory(creator=nora)
    page = browser_page

    log_in(page, live_server, "operator")
    page.goto(f"{live_server.url}/admin/export/apitoken/")
    page.click("text=Add API token")
    # The user is chosen in the user list's popup, found by name.
    with page.expect_popup() as popup:
        page.click("#lookup_id_user")
    users = popup.value
    users.fill("#searchbar", "nora")
    users.press("#searchbar", "Enter")
    users.wait_for_load_state()
    users.click("#result_list a:text-is('nora')")
    screenshot(page, "add-token")
    page.click("input[name=_save]")
    page.wait_for_load_state()
    screenshot(page, "token-added")
    key = page.locator("#token-key").inner_text()
    export = page.request.post(
        f"{live_server.url}/v1/export/google", data="{}", headers={
            "Content-Type": "application/json", "Accept": "text/plain", "Authorization": f"Token token={key}",
        },
    )
    page.goto(f"{live_server.url}/admin/export/apitoken/")
    screenshot(page, "tokens")

    assert key == nora.auth_token.key
    assert export.status == 200
    assert [str(event["UID"]) for event in parse_events(export.body())] == [str(slot.uuid)]
    assert key[:5] not in page.content() and f"{key[:4]}…" in page.locator("#result_list").inner_text()
