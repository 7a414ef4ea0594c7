"""The operators' screens in a real browser: Debian's chromium driven by Playwright."""
import pytest

from slots.tests.factories import SlotFactory, UserFactory

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
