"""/v1/feeds: subscription feeds, managed with the user's token and fetched with their secret."""
import hashlib
import http.client
import json
import os
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from django.utils.http import parse_http_date
from rest_framework.test import APIClient

from bench import served
from export.api.feed_views import announced_last_modified
from export.imports.service import import_slots
from export.models import CalendarFeed, SlotChangeClock
from export.tests.ical_reader import parse_calendar, parse_events
from export.tests.test_log_redaction import manage_shell
from slots.models import Slot, SlotGroup
from slots.tests.factories import SlotFactory, SlotGroupFactory, UserFactory

pytestmark = pytest.mark.django_db

FEEDS = "/v1/feeds"
UTC = timezone.utc
# A moment well in the past, so that no test runs within its second (see announced_last_modified).
LONG_AGO = datetime(2026, 1, 15, 8, 30, 0, 250000, tzinfo=UTC)


def create(api, data=None):
    return api.post(FEEDS, data or {}, format="json")


def path_of(url: str) -> str:
    return urlsplit(url).path


def not_found(response) -> bytes:
    """The bytes of the feed's 404, the same for every unknown secret, but for the answer's own request id."""
    return b'{"detail":"Not found.","request_id":"%s"}' % response["X-Request-Id"].encode()


def fetch(path, client=None, method="get", **headers):
    """The feed at path, as a calendar app fetches it (no credentials), its body read into response.body."""
    response = getattr(client or APIClient(), method)(path, headers=headers)
    response.body = b"".join(response.streaming_content) if response.streaming else response.content
    return response


def last_changed_long_ago(*slots: Slot, moment=LONG_AGO) -> None:
    """The slots as if last edited at moment, and every group, feed and change clock made before that."""
    Slot.objects.filter(pk__in=[slot.pk for slot in slots]).update(updated_at=moment, created_at=moment)
    SlotGroup.objects.update(created_at=moment - timedelta(days=1), updated_at=moment - timedelta(days=1))
    CalendarFeed.objects.update(created_at=moment - timedelta(days=1), settings_changed_at=moment - timedelta(days=1))
    SlotChangeClock.objects.update(at=moment - timedelta(days=1))


def lines(body: bytes) -> list[bytes]:
    return body.split(b"\r\n")


@pytest.fixture
def feed_path(api):
    return path_of(create(api).json()["url"])


# Managing feeds -------------------------------------------------------------------------------


def test_creating_a_feed_is_201_with_its_absolute_url_shown_once(api):
    response = create(api)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id", "url", "webcal_url", "google_url", "group", "created_at", "past_days", "future_days", "detail_level",
        "slot_count", "bytes", "warnings",
    }
    assert body["url"].startswith("http://testserver/v1/feeds/") and body["url"].endswith(".ics")
    assert body["group"] is None
    assert str(CalendarFeed.objects.get().uuid) == body["id"]


def test_a_feed_can_be_limited_to_a_group(api, user):
    group = SlotGroupFactory(owner=user)

    response = create(api, {"group": str(group.uuid)})

    assert response.status_code == 201
    assert response.json()["group"] == str(group.uuid)
    assert CalendarFeed.objects.get().group == group


@pytest.mark.parametrize("value", ["not-a-uuid", 42, ["x"]])
def test_a_group_that_is_not_a_uuid_string_is_422(api, value):
    response = create(api, {"group": value})

    assert response.status_code == 422
    assert list(response.json()) == ["group", "request_id"]
    assert not CalendarFeed.objects.exists()


def test_the_feed_api_needs_the_users_token():
    assert APIClient().get(FEEDS).status_code == 401
    assert APIClient().post(FEEDS).status_code == 401


def test_listing_shows_the_users_feeds_without_secret_or_hash(api, user, client_for):
    group = SlotGroupFactory(owner=user)
    first, second = create(api).json(), create(api, {"group": str(group.uuid)}).json()
    create(client_for(UserFactory()))

    response = api.get(FEEDS)

    assert response.status_code == 200
    listed = response.json()
    assert [feed["id"] for feed in listed] == [first["id"], second["id"]]
    assert all("url" not in feed and "secret_hash" not in feed for feed in listed)
    assert [feed["group"] for feed in listed] == [None, str(group.uuid)]
    for feed in (first, second):
        secret = path_of(feed["url"]).removeprefix(f"{FEEDS}/").removesuffix(".ics")
        assert secret not in response.content.decode()
        assert hashlib.sha256(secret.encode()).hexdigest() not in response.content.decode()


def test_the_secret_is_stored_only_as_its_hash(api):
    url = create(api).json()["url"]
    secret = path_of(url).removeprefix(f"{FEEDS}/").removesuffix(".ics")

    feed = CalendarFeed.objects.get()

    assert len(secret) >= 43  # 256 bits, URL-safe base64
    assert feed.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    stored = " ".join(str(value) for value in CalendarFeed.objects.values().get().values())
    assert secret not in stored


def test_rotating_gives_a_new_url_and_the_old_one_is_404_at_once(api):
    created = create(api).json()
    assert fetch(path_of(created["url"])).status_code == 200

    response = api.post(f"{FEEDS}/{created['id']}/rotate")

    assert response.status_code == 200
    assert response.json()["id"] == created["id"]
    assert response.json()["url"] != created["url"]
    assert fetch(path_of(created["url"])).status_code == 404
    assert fetch(path_of(response.json()["url"])).status_code == 200


def test_revoking_is_204_and_the_url_is_404(api, feed_path):
    feed = CalendarFeed.objects.get()

    response = api.delete(f"{FEEDS}/{feed.uuid}")

    assert response.status_code == 204
    assert fetch(feed_path).status_code == 404
    assert not CalendarFeed.objects.exists()


def test_the_answers_that_show_a_secret_url_are_kept_by_no_cache(api):
    created = create(api)
    rotated = api.post(f"{FEEDS}/{created.json()['id']}/rotate")

    assert (created.status_code, rotated.status_code) == (201, 200)
    assert created["Cache-Control"] == rotated["Cache-Control"] == "no-store"


def test_a_user_with_the_most_feeds_gets_409_naming_the_limit_until_one_is_deleted(settings, api, client_for):
    settings.FEED_MAX_PER_USER = 2
    first, _ = create(api).json(), create(api).json()

    refused = create(api)

    assert refused.status_code == 409
    assert refused.json() == {
        "detail": "This user has 2 feeds, the most one user may have. Delete one first.", "max_feeds": 2,
        "request_id": refused["X-Request-Id"],
    }
    assert CalendarFeed.objects.count() == 2
    assert create(client_for(UserFactory())).status_code == 201
    assert api.delete(f"{FEEDS}/{first['id']}").status_code == 204
    assert create(api).status_code == 201


def test_an_unknown_feed_id_is_404(api):
    assert api.post(f"{FEEDS}/{uuid.uuid4()}/rotate").status_code == 404
    assert api.delete(f"{FEEDS}/{uuid.uuid4()}").status_code == 404


# The calendar ---------------------------------------------------------------------------------


def test_the_feed_is_the_exports_calendar_but_for_dtstamp(api, user, feed_path):
    SlotFactory(creator=user, title="Plain")
    SlotFactory(creator=user, title="Ümlaut; comma", description="two\nlines " * 20, end=None, visibility="public")
    SlotFactory(creator=user, title="Day", all_day=True)
    export = api.post("/v1/export/google", b"", content_type="application/json")
    exported = b"".join(export.streaming_content)

    feed = fetch(feed_path).body

    def events_without_stamp(body):
        return [{name: value.to_ical() for name, value in event.items() if name != "DTSTAMP"}
                for event in parse_events(body)]

    assert len(parse_events(feed)) == 3
    assert events_without_stamp(feed) == events_without_stamp(exported)
    refresh = {b"REFRESH-INTERVAL;VALUE=DURATION:PT1H", b"X-PUBLISHED-TTL:PT1H"}
    assert [line for line in lines(feed) if not line.startswith(b"DTSTAMP:") and line not in refresh] == [
        line for line in lines(exported) if not line.startswith(b"DTSTAMP:")
    ]


def test_the_feed_asks_calendar_apps_to_fetch_it_hourly(feed_path):
    body = fetch(feed_path).body

    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H" in lines(body)
    assert b"X-PUBLISHED-TTL:PT1H" in lines(body)
    calendar = parse_calendar(body)
    assert calendar.decoded("REFRESH-INTERVAL") == timedelta(hours=1)
    assert str(calendar["X-PUBLISHED-TTL"]) == "PT1H"


def test_the_feed_is_served_inline_privately_and_never_compressed(feed_path):
    response = fetch(feed_path, Accept_Encoding="gzip, deflate, br")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "Content-Disposition" not in response
    assert "Content-Encoding" not in response
    assert response["Cache-Control"] == "private, max-age=900"


@pytest.mark.parametrize("accept", ["*/*", "text/calendar", "application/json", "text/html", None])
def test_any_accept_a_calendar_app_sends_gets_the_calendar(feed_path, accept):
    response = fetch(feed_path, **({"Accept": accept} if accept else {}))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"


def test_a_group_feed_holds_only_the_owners_slots_in_the_group(api, user):
    group = SlotGroupFactory(owner=user, name="Team offsite")
    inside = SlotFactory(creator=user, groups=[group])
    SlotFactory(creator=user)
    path = path_of(create(api, {"group": str(group.uuid)}).json()["url"])

    calendar = parse_calendar(fetch(path).body)

    assert [str(event["UID"]) for event in calendar.walk("VEVENT")] == [str(inside.uuid)]
    assert str(calendar["X-WR-CALNAME"]) == "Team offsite"


def test_two_fetches_of_one_state_are_byte_identical(user, feed_path):
    slot = SlotFactory(creator=user)
    last_changed_long_ago(slot)

    first, second = fetch(feed_path), fetch(feed_path)

    assert first.body == second.body
    assert b"DTSTAMP:20260115T083000Z" in lines(first.body)


def test_head_sends_the_headers_without_the_calendar(feed_path):
    # Changed long ago: within the second of a change, Last-Modified moves on as that second ends.
    last_changed_long_ago(*Slot.objects.all())
    get, head = fetch(feed_path), fetch(feed_path, method="head")

    assert head.status_code == 200
    assert head.body == b""
    assert head["Content-Type"] == "text/calendar; charset=utf-8"
    assert head["ETag"] == get["ETag"] and head["Last-Modified"] == get["Last-Modified"]


def test_the_first_fetch_of_an_interval_is_recorded_and_the_next_in_it_are_not(user, feed_path):
    assert CalendarFeed.objects.get().last_fetched_at is None

    etag = fetch(feed_path)["ETag"]
    first = CalendarFeed.objects.get().last_fetched_at
    fetch(feed_path, If_None_Match=etag)
    fetch(feed_path)

    assert first is not None
    assert CalendarFeed.objects.get().last_fetched_at == first


def test_with_an_interval_of_zero_each_fetch_is_recorded(settings, user, feed_path):
    settings.FEED_FETCH_RECORD_SECONDS = 0

    etag = fetch(feed_path)["ETag"]
    first = CalendarFeed.objects.get().last_fetched_at
    fetch(feed_path, If_None_Match=etag)

    assert first is not None
    assert CalendarFeed.objects.get().last_fetched_at > first


# Revalidation ---------------------------------------------------------------------------------


def test_last_modified_is_the_newest_slot_change_and_the_etag_is_strong(user, feed_path):
    older, newer = SlotFactory(creator=user), SlotFactory(creator=user)
    last_changed_long_ago(older, moment=LONG_AGO - timedelta(hours=1))
    last_changed_long_ago(newer)

    response = fetch(feed_path)

    assert response["Last-Modified"] == "Thu, 15 Jan 2026 08:30:00 GMT"
    assert response["ETag"].startswith('"') and response["ETag"].endswith('"')


def test_if_none_match_is_answered_304(user, feed_path):
    SlotFactory(creator=user)
    etag = fetch(feed_path)["ETag"]

    response = fetch(feed_path, If_None_Match=etag)

    assert response.status_code == 304
    assert response.body == b""
    assert response["ETag"] == etag


def test_if_modified_since_is_answered_304(user, feed_path):
    last_changed_long_ago(SlotFactory(creator=user))
    last_modified = fetch(feed_path)["Last-Modified"]

    response = fetch(feed_path, If_Modified_Since=last_modified)

    assert response.status_code == 304
    assert response["Last-Modified"] == last_modified


def body_length_allowed(length: str | None, get_body: bytes) -> bool:
    """RFC 9110 §8.6: a HEAD or a 304 may say the length of the GET's (the 200's) body, or nothing."""
    return length is None or int(length) == len(get_body)


def test_head_and_304_say_no_length_but_the_gets(user, feed_path):
    SlotFactory.create_batch(3, creator=user)
    get = fetch(feed_path)

    head = fetch(feed_path, method="head")
    not_modified = fetch(feed_path, If_None_Match=get["ETag"])

    assert (head.status_code, not_modified.status_code) == (200, 304)
    assert len(get.body) > 0
    assert body_length_allowed(head.get("Content-Length"), get.body)
    assert body_length_allowed(not_modified.get("Content-Length"), get.body)


SCRATCH_FEED = """
import json
from django.contrib.auth import get_user_model
from django.utils import timezone
from export.feeds import create_feed
from slots.models import Slot
owner = get_user_model().objects.create(username="nora")
for hour in range(40):
    Slot.objects.create(creator=owner, title=f"Rehearsal {hour}", start=timezone.now())
print(json.dumps(create_feed(owner=owner, group=None)[1]), end="")
"""


def test_over_gunicorn_head_and_304_say_no_length_but_the_gets(tmp_path):
    env = {**os.environ, **served.production_environment(f"sqlite:///{tmp_path}/scratch.sqlite3")}
    env.pop("REDIS_URL", None)
    served.run_checked([str(served.BIN / "python"), "manage.py", "migrate", "--noinput"], env)
    secret = json.loads(manage_shell(env, SCRATCH_FEED))
    path = f"{FEEDS}/{secret}.ics"
    with served.gunicorn(env, ["--workers", "1"]) as server:
        def answer(method: str, **headers) -> http.client.HTTPResponse:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            connection.request(method, path, headers=headers)
            response = connection.getresponse()
            response.body = response.read()
            connection.close()
            return response

        get = answer("GET")
        head = answer("HEAD")
        not_modified = answer("GET", **{"If-None-Match": get.getheader("ETag")})

    assert (get.status, head.status, not_modified.status) == (200, 200, 304)
    assert get.body.count(b"BEGIN:VEVENT") == 40
    assert body_length_allowed(head.getheader("Content-Length"), get.body)
    assert body_length_allowed(not_modified.getheader("Content-Length"), get.body)


def test_a_change_later_in_the_same_second_is_not_hidden_from_if_modified_since():
    change = datetime(2026, 3, 1, 12, 0, 0, 200000, tzinfo=UTC)

    during = announced_last_modified(change, now=change + timedelta(milliseconds=300))
    after = announced_last_modified(change, now=change + timedelta(seconds=2))

    # A client holding `during` gets a 200 for any change within that second; `after` is the second itself.
    assert during < int(change.timestamp()) == after


def test_editing_a_slot_changes_etag_and_last_modified(user, feed_path):
    slot = SlotFactory(creator=user)
    last_changed_long_ago(slot)
    before = fetch(feed_path)

    slot.refresh_from_db()
    slot.title = "Moved"
    slot.save()
    after = fetch(feed_path, If_None_Match=before["ETag"], If_Modified_Since=before["Last-Modified"])

    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert parse_http_date(after["Last-Modified"]) > parse_http_date(before["Last-Modified"])


def test_deleting_a_slot_changes_etag_and_last_modified_never_goes_back(user, feed_path):
    kept, deleted = SlotFactory(creator=user), SlotFactory(creator=user)
    last_changed_long_ago(kept, moment=LONG_AGO - timedelta(days=1))
    last_changed_long_ago(deleted)
    before = fetch(feed_path)

    deleted.delete()
    after = fetch(feed_path, If_Modified_Since=before["Last-Modified"])

    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert parse_http_date(after["Last-Modified"]) >= parse_http_date(before["Last-Modified"])
    assert [str(event["UID"]) for event in parse_events(after.body)] == [str(kept.uuid)]


def test_deleting_slots_in_bulk_reaches_the_feed(user, feed_path):
    slots = SlotFactory.create_batch(3, creator=user)
    last_changed_long_ago(*slots)
    before = fetch(feed_path)

    Slot.objects.filter(pk__in=[slot.pk for slot in slots[1:]]).delete()
    after = fetch(feed_path, If_Modified_Since=before["Last-Modified"])

    assert after.status_code == 200 and len(parse_events(after.body)) == 1


@pytest.mark.parametrize(
    "leave",
    [
        lambda slot, group: slot.groups.remove(group),
        lambda slot, group: group.slots.remove(slot),
        lambda slot, group: slot.groups.clear(),
        lambda slot, group: group.slots.clear(),
    ],
    ids=["slot.groups.remove", "group.slots.remove", "slot.groups.clear", "group.slots.clear"],
)
def test_a_slot_leaving_the_group_changes_the_group_feed(api, user, leave):
    group = SlotGroupFactory(owner=user)
    slot = SlotFactory(creator=user, groups=[group])
    path = path_of(create(api, {"group": str(group.uuid)}).json()["url"])
    last_changed_long_ago(slot)
    before = fetch(path)

    leave(slot, group)
    after = fetch(path, If_Modified_Since=before["Last-Modified"])

    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert parse_events(after.body) == []


def test_a_slot_joining_the_group_changes_the_group_feed(api, user):
    group = SlotGroupFactory(owner=user)
    slot = SlotFactory(creator=user)
    path = path_of(create(api, {"group": str(group.uuid)}).json()["url"])
    last_changed_long_ago(slot)
    # Older than the group and the feed: only the membership is new.
    Slot.objects.filter(pk=slot.pk).update(updated_at=LONG_AGO - timedelta(days=2))
    before = fetch(path)

    group.slots.add(slot)
    after = fetch(path, If_Modified_Since=before["Last-Modified"])

    assert after.status_code == 200
    assert len(parse_events(after.body)) == 1


def test_an_import_filing_an_unchanged_slot_under_the_group_changes_the_group_feed(api, user):
    group = SlotGroupFactory(owner=user)
    slot = SlotFactory(creator=user)
    exported = b"".join(api.post("/v1/export/google", b"", content_type="application/json").streaming_content)
    path = path_of(create(api, {"group": str(group.uuid)}).json()["url"])
    last_changed_long_ago(slot)
    # Older than the group and the feed: only the membership is new.
    Slot.objects.filter(pk=slot.pk).update(updated_at=LONG_AGO - timedelta(days=2))
    before = fetch(path)

    result = import_slots(user=user, data=exported, group=group.uuid)
    after = fetch(path, If_Modified_Since=before["Last-Modified"])

    assert result.unchanged == 1
    assert after.status_code == 200 and len(parse_events(after.body)) == 1


def test_deleting_a_user_with_slots_and_feeds_deletes_them_all(user, feed_path):
    SlotFactory.create_batch(2, creator=user)

    user.delete()

    assert not Slot.objects.exists() and not CalendarFeed.objects.exists()


# What a secret opens --------------------------------------------------------------------------


def test_revoked_rotated_away_and_random_secrets_answer_alike(api):
    revoked, rotated = create(api).json(), create(api).json()
    api.delete(f"{FEEDS}/{revoked['id']}")
    api.post(f"{FEEDS}/{rotated['id']}/rotate")

    responses = [
        fetch(path_of(revoked["url"])),
        fetch(path_of(rotated["url"])),
        fetch(f"{FEEDS}/{'A' * 43}.ics"),
        fetch(f"{FEEDS}/x.ics"),
    ]

    assert {response.status_code for response in responses} == {404}
    assert {response["Content-Type"] for response in responses} == {"application/json"}
    # The same bytes, but for each answer's own id.
    assert [response.body for response in responses] == [not_found(response) for response in responses]


def test_a_group_feed_is_404_once_the_owner_leaves_the_group(client_for):
    owner, member = UserFactory(), UserFactory()
    group = SlotGroupFactory(owner=owner)
    group.members.add(member)
    path = path_of(create(client_for(member), {"group": str(group.uuid)}).json()["url"])
    assert fetch(path).status_code == 200

    group.members.remove(member)

    response = fetch(path)
    assert response.status_code == 404
    assert response.body == not_found(response)


def test_the_feed_of_an_inactive_user_is_404(user, feed_path):
    user.is_active = False
    user.save()

    assert fetch(feed_path).status_code == 404


def test_the_api_token_opens_no_feed(user, token):
    SlotFactory(creator=user)

    assert fetch(f"{FEEDS}/{token.key}.ics").status_code == 404
    assert fetch(f"{FEEDS}/{token.key}.ics?token={token.key}").status_code == 404
    assert fetch(f"{FEEDS}/x.ics", Authorization=f"Token token={token.key}").status_code == 404


# Queries --------------------------------------------------------------------------------------


@pytest.mark.parametrize("slot_count", [1, 100])
def test_the_query_count_does_not_grow_with_the_slots(django_assert_num_queries, api, user, slot_count):
    group = SlotGroupFactory(owner=user)
    SlotFactory.create_batch(slot_count, creator=user, groups=[group])
    path = path_of(create(api, {"group": str(group.uuid)}).json()["url"])

    # Feed with its group's visibility, slots' newest change and count, the clock, the fetch counts' write,
    # the slot limit's bounded count, the slots,
    # and the savepoint around their read (the test's transaction turns BEGIN and COMMIT into one); then
    # the export log's one INSERT, in a savepoint of its own for the same reason.
    with django_assert_num_queries(11):
        response = fetch(path)
        assert len(parse_events(response.body)) == slot_count


def test_a_revalidation_does_not_read_the_slots(django_assert_num_queries, user, feed_path):
    SlotFactory.create_batch(5, creator=user)
    etag = fetch(feed_path)["ETag"]

    # Nothing: what the secret opens and the feed's version are cached (export/feed_access.py,
    # export/feed_versions.py); nothing written: the first fetch recorded the interval (test_feed_polls.py).
    with django_assert_num_queries(0):
        assert fetch(feed_path, If_None_Match=etag).status_code == 304
