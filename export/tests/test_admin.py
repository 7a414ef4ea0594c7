"""The operators' screens: the export log, previews, the .ics action, feeds and tokens."""
import html
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.admin import helpers
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from export.models import ApiToken, CalendarFeed, ExportLog
from export.tests.ical_reader import parse_events
from export.tests.test_api import export
from export.tests.test_feeds import create
from export.tests.test_parts import unzipped
from slots.tests.factories import SlotFactory, SlotGroupFactory, TokenFactory, UserFactory

pytestmark = pytest.mark.django_db


def without_stamp(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\r\n") if not line.startswith(b"DTSTAMP:")]


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def log_row(user, **fields) -> ExportLog:
    values = {"kind": "google", "status": 200, "duration": timedelta(seconds=1), **fields}
    return ExportLog.objects.create(user=user, **values)


def listed(response) -> list:
    return list(response.context["cl"].result_list)


# The export log -----------------------------------------------------------------------------------


def test_staff_filter_the_log_by_kind_and_status(staff_client):
    nora = UserFactory(username="nora")
    feed_ok = log_row(nora, kind="feed")
    log_row(nora, kind="feed", status=304)
    log_row(nora, kind="import", status=422)

    response = staff_client.get(reverse("admin:export_exportlog_changelist"), {"kind": "feed", "status": 200})

    assert listed(response) == [feed_ok]


def test_staff_find_a_users_exports_by_username_or_email(staff_client):
    nora = UserFactory(username="nora", email="nora@example.net")
    mine = log_row(nora)
    log_row(UserFactory(username="ines"))
    url = reverse("admin:export_exportlog_changelist")

    assert listed(staff_client.get(url, {"q": "nora"})) == [mine]
    assert listed(staff_client.get(url, {"q": "example.net"})) == [mine]


def test_a_real_export_shows_in_the_log(staff_client, api, user):
    SlotFactory.create_batch(2, creator=user)
    export(api)

    response = staff_client.get(reverse("admin:export_exportlog_changelist"), {"q": user.username})

    (row,) = listed(response)
    assert (row.kind, row.slot_count, row.status) == ("google", 2, 200)


def test_the_log_cannot_be_added_to_edited_or_deleted(staff_client):
    row = log_row(UserFactory(), slot_count=3)

    assert staff_client.get(reverse("admin:export_exportlog_add")).status_code == 403
    change = reverse("admin:export_exportlog_change", args=[row.pk])
    page = staff_client.get(change)
    assert page.status_code == 200 and not page.context["adminform"].form.fields
    assert staff_client.post(change, {"slot_count": 99}).status_code == 403
    delete = reverse("admin:export_exportlog_delete", args=[row.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    row.refresh_from_db()
    assert row.slot_count == 3


# Export previews ----------------------------------------------------------------------------------


def test_the_user_preview_is_the_api_calendar_escaped(staff_client, api, user):
    SlotFactory(creator=user, title="<script>alert(1)</script>")
    SlotFactory(creator=user, title="Plain")

    page = staff_client.get(reverse("admin:auth_user_export_preview", args=[user.pk]))

    assert page.status_code == 200
    assert b"<script>alert(1)</script>" not in page.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.content
    shown = page.content.decode().split('<pre id="export-preview">')[1].split("</pre>")[0]
    assert without_stamp(html.unescape(shown).encode()) == without_stamp(export(api).body)


def test_the_user_preview_downloads_the_api_bytes(staff_client, api, user):
    SlotFactory.create_batch(3, creator=user)

    response = staff_client.get(reverse("admin:auth_user_export_download", args=[user.pk]))

    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="Timeslot-Export.ics"'
    assert without_stamp(body_of(response)) == without_stamp(export(api).body)


def test_a_long_calendar_is_previewed_by_its_first_events_and_downloaded_whole(staff_client, api, user, monkeypatch):
    monkeypatch.setattr("export.previews.PREVIEW_EVENTS", 3)
    SlotFactory.create_batch(5, creator=user)

    page = staff_client.get(reverse("admin:auth_user_export_preview", args=[user.pk]))
    download = body_of(staff_client.get(reverse("admin:auth_user_export_download", args=[user.pk])))

    everything = parse_events(export(api).body)
    shown = parse_events(page.context["calendar"].encode())
    assert [event["UID"] for event in shown] == [event["UID"] for event in everything[:3]]
    assert page.context["calendar"].endswith("END:VCALENDAR\r\n")
    assert "The first 3 of 5 events; the download holds them all." in page.content.decode()
    assert len(parse_events(download)) == 5


def test_the_preview_offers_the_parts_and_says_when_the_calendar_is_over_googles_budget(
    staff_client, api, user, settings
):
    settings.EXPORT_PART_MAX_BYTES = 2000
    SlotFactory.create_batch(12, creator=user)

    page = staff_client.get(reverse("admin:auth_user_export_preview", args=[user.pk]))
    parts = staff_client.get(reverse("admin:auth_user_export_parts", args=[user.pk]))

    single = export(api, HTTP_ACCEPT="text/plain").body
    assert page.context["size"] == len(single)
    assert b'id="export-over-budget"' in page.content
    assert reverse("admin:auth_user_export_parts", args=[user.pk]) in page.content.decode()
    assert parts["Content-Type"] == "application/zip"
    assert parts["Content-Disposition"] == 'attachment; filename="Timeslot-Export.zip"'
    files = unzipped(body_of(parts))
    assert len(files) > 1 and all(len(part) <= 2000 for part in files.values())
    assert [event["UID"] for part in files.values() for event in parse_events(part)] == [
        event["UID"] for event in parse_events(single)
    ]


def test_a_calendar_within_the_budget_is_not_said_to_be_over_it(staff_client, user):
    SlotFactory.create_batch(3, creator=user)

    page = staff_client.get(reverse("admin:auth_user_export_preview", args=[user.pk]))

    assert b'id="export-size"' in page.content
    assert b'id="export-over-budget"' not in page.content


def test_a_short_calendar_is_previewed_whole_without_a_note(staff_client, user):
    SlotFactory.create_batch(2, creator=user)

    page = staff_client.get(reverse("admin:auth_user_export_preview", args=[user.pk]))

    assert len(parse_events(page.context["calendar"].encode())) == 2
    assert b"export-preview-cut" not in page.content


def test_the_user_change_page_links_to_the_preview(staff_client, user):
    page = staff_client.get(reverse("admin:auth_user_change", args=[user.pk]))

    assert reverse("admin:auth_user_export_preview", args=[user.pk]) in page.content.decode()


def test_the_group_preview_is_its_owners_export_of_the_group(staff_client, api, user):
    group = SlotGroupFactory(owner=user, name="Team")
    SlotFactory(creator=user, title="In the group", groups=[group])
    SlotFactory(creator=user, title="Not in it")

    page = staff_client.get(reverse("admin:slots_slotgroup_export_preview", args=[group.pk]))
    download = body_of(staff_client.get(reverse("admin:slots_slotgroup_export_download", args=[group.pk])))

    api_body = export(api, data={"group": str(group.uuid)}).body
    assert without_stamp(page.context["calendar"].encode()) == without_stamp(api_body)
    assert without_stamp(download) == without_stamp(api_body)
    assert [str(event["SUMMARY"]) for event in parse_events(download)] == ["In the group"]
    change = staff_client.get(reverse("admin:slots_slotgroup_change", args=[group.pk]))
    assert reverse("admin:slots_slotgroup_export_preview", args=[group.pk]) in change.content.decode()


def test_an_unknown_object_has_no_preview(staff_client):
    assert staff_client.get(reverse("admin:auth_user_export_preview", args=[999999])).status_code == 404


# The slots' .ics action ---------------------------------------------------------------------------


def test_download_selected_is_a_calendar_of_exactly_those_slots_in_order(staff_client):
    later = SlotFactory(title="Later")
    earlier = SlotFactory(title="Earlier", start=later.start.replace(year=later.start.year - 1))
    earlier.end = earlier.start.replace(hour=(earlier.start.hour + 1) % 24)
    SlotFactory(title="Not selected")

    response = staff_client.post(
        reverse("admin:slots_slot_changelist"),
        {"action": "download_ics", helpers.ACTION_CHECKBOX_NAME: [later.pk, earlier.pk]},
    )

    assert response.streaming
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    events = parse_events(body_of(response))
    assert [str(event["UID"]) for event in events] == [str(earlier.uuid), str(later.uuid)]


# Feeds --------------------------------------------------------------------------------------------


def test_feeds_list_owner_scope_and_never_the_secret_hash(staff_client, api, user):
    group = SlotGroupFactory(owner=user, name="Team")
    create(api)
    create(api, {"group": str(group.uuid)})
    feed = CalendarFeed.objects.get(group=group)

    listing = staff_client.get(reverse("admin:export_calendarfeed_changelist"))
    page = staff_client.get(reverse("admin:export_calendarfeed_change", args=[feed.pk]))

    assert {(row.owner, row.group) for row in listed(listing)} == {(user, None), (user, group)}
    assert "all slots" in listing.content.decode() and "Team" in listing.content.decode()
    for response in (listing, page):
        for secret_hash in CalendarFeed.objects.values_list("secret_hash", flat=True):
            assert secret_hash not in response.content.decode()


def test_a_feeds_page_shows_its_window_and_detail_level(staff_client, api):
    create(api, {"past_days": 14, "future_days": 90, "detail_level": "busy"})

    page = staff_client.get(reverse("admin:export_calendarfeed_change", args=[CalendarFeed.objects.get().pk]))

    assert page.status_code == 200
    text = page.content.decode()
    assert "Past days" in text and "Future days" in text and "Busy" in text


def test_a_feeds_page_shows_its_fetch_counts_once_written(staff_client, api, settings):
    settings.FEED_FETCH_RECORD_SECONDS = 0
    path = urlsplit(create(api).json()["url"]).path
    full = APIClient().get(path)
    b"".join(full.streaming_content)
    etag = full["ETag"]
    for _ in range(3):
        assert APIClient().get(path, headers={"If-None-Match": etag}).status_code == 304

    page = staff_client.get(reverse("admin:export_calendarfeed_change", args=[CalendarFeed.objects.get().pk]))

    text = page.content.decode()
    assert "Fetches answered 200" in text and "Fetches answered 304" in text
    assert (CalendarFeed.objects.get().fetches_sent, CalendarFeed.objects.get().fetches_not_modified) == (1, 3)


def test_revoking_selected_feeds_deletes_them_and_says_how_many(staff_client, api):
    create(api)
    create(api)
    kept = create(api).json()["id"]
    revoked = CalendarFeed.objects.exclude(uuid=kept)

    response = staff_client.post(
        reverse("admin:export_calendarfeed_changelist"),
        {"action": "revoke", helpers.ACTION_CHECKBOX_NAME: [feed.pk for feed in revoked]},
        follow=True,
    )

    assert [str(feed.uuid) for feed in CalendarFeed.objects.all()] == [kept]
    assert "Revoked 2 feeds." in [str(message) for message in response.context["messages"]]


# Tokens -------------------------------------------------------------------------------------------


def test_the_token_admin_shows_who_has_a_token_never_the_key(staff_client):
    token = TokenFactory(user=UserFactory(username="nora"))

    listing = staff_client.get(reverse("admin:export_apitoken_changelist"))
    page = staff_client.get(reverse("admin:export_apitoken_change", args=[token.user_id]))
    delete = staff_client.get(reverse("admin:export_apitoken_delete", args=[token.user_id]))

    for response in (listing, page, delete):
        content = response.content.decode()
        assert response.status_code == 200
        assert token.key not in content and token.key[:5] not in content
        assert f"{token.key[:4]}…" in content and "nora" in content


def test_drfs_token_admin_is_gone(staff_client):
    assert staff_client.get("/admin/authtoken/tokenproxy/").status_code == 404


def add_token(client, user, **fields):
    return client.post(reverse("admin:export_apitoken_add"), {"user": user.pk, **fields})


def test_staff_add_a_users_first_token_and_its_key_opens_the_api(staff_client):
    nora = UserFactory(username="nora")
    slot = SlotFactory(creator=nora)
    form = staff_client.get(reverse("admin:export_apitoken_add"))

    # A key in the form is not read: the server makes it.
    added = add_token(staff_client, nora, key="k" * 40)

    assert list(form.context["adminform"].form.fields) == ["user"]
    assert added.status_code == 200 and "no-store" in added["Cache-Control"]
    token = Token.objects.get(user=nora)
    assert token.key != "k" * 40 and len(token.key) == 40
    assert html.escape(token.key) in added.content.decode()
    for header in (f"Token token={token.key}", f"Token {token.key}"):
        response = export(APIClient(), HTTP_AUTHORIZATION=header)
        assert response.status_code == 200, header
        assert [str(event["UID"]) for event in parse_events(response.body)] == [str(slot.uuid)]


def test_once_added_a_key_is_never_shown_again(staff_client):
    nora = UserFactory(username="nora")
    add_token(staff_client, nora)
    key = Token.objects.get(user=nora).key

    screens = [
        reverse("admin:export_apitoken_changelist"),
        reverse("admin:export_apitoken_change", args=[nora.pk]),
        reverse("admin:export_apitoken_history", args=[nora.pk]),
        reverse("admin:index"),
    ]

    for url in screens:
        content = staff_client.get(url).content.decode()
        assert key[:5] not in content and f"{key[:4]}…" in content, url


def test_a_user_with_a_token_gets_no_second_one_and_keeps_the_first(staff_client):
    first = TokenFactory(user=UserFactory(username="nora"))

    response = add_token(staff_client, first.user)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["user"] == ["nora has an API token already: delete it to make a new key."]
    assert first.key[:5] not in response.content.decode()
    assert list(Token.objects.values_list("key", flat=True)) == [first.key]


def test_staff_who_may_only_view_tokens_cannot_add_one(client):
    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(
        content_type=ContentType.objects.get_for_model(ApiToken, for_concrete_model=False), codename="view_apitoken",
    ))
    client.force_login(viewer)

    assert client.get(reverse("admin:export_apitoken_changelist")).status_code == 200
    assert client.get(reverse("admin:export_apitoken_add")).status_code == 403
    assert add_token(client, UserFactory(username="nora")).status_code == 403
    assert not Token.objects.exists()


# Staff only -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, needs_object", [
    ("admin:export_exportlog_changelist", False),
    ("admin:export_calendarfeed_changelist", False),
    ("admin:export_apitoken_changelist", False),
    ("admin:auth_user_export_preview", "user"),
    ("admin:auth_user_export_download", "user"),
    ("admin:auth_user_export_parts", "user"),
    ("admin:slots_slotgroup_export_preview", "group"),
    ("admin:slots_slotgroup_export_download", "group"),
])
def test_non_staff_are_sent_to_the_login_page(client, user, name, needs_object):
    client.force_login(user)
    objects = {"user": user, "group": SlotGroupFactory(owner=user)}
    url = reverse(name, args=[objects[needs_object].pk]) if needs_object else reverse(name)

    response = client.get(url)

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_non_staff_cannot_download_selected_slots(client, user):
    slot = SlotFactory(creator=user)
    client.force_login(user)

    response = client.post(
        reverse("admin:slots_slot_changelist"), {"action": "download_ics", helpers.ACTION_CHECKBOX_NAME: [slot.pk]}
    )

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
