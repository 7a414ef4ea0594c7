"""A feed's rolling window and detail level, what it holds (slot_count, bytes, warnings), and its links."""
import random
from datetime import date, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.utils.http import parse_http_date
from icalendar import Calendar

from export.feeds import GOOGLE_BYTES_BUDGET, feed_export, feed_slots, feed_version, new_secret, secret_hash
from export.models import CalendarFeed
from export.renderers import ICalendarFeedRenderer
from export.tests.ical_reader import parse_events
from export.tests.test_abuse import assert_throttled, with_rates
from export.tests.test_feeds import FEEDS, create, fetch, last_changed_long_ago, path_of
from slots.models import Slot
from slots.tests.factories import SlotFactory, SlotGroupFactory, UserFactory

pytestmark = pytest.mark.django_db

UTC = timezone.utc
# The fetches of the window tests happen on this day; the slots were last edited long before.
TODAY = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
MIDNIGHT = datetime(2026, 3, 10, tzinfo=UTC)


def feed_of(user, **settings_) -> CalendarFeed:
    return CalendarFeed.objects.create(owner=user, secret_hash=secret_hash(new_secret()), **settings_)


def calendar_at(feed: CalendarFeed, now: datetime) -> tuple[bytes, str]:
    """The feed's calendar and ETag as a fetch at now gets them, through the fetch's own path."""
    feed.refresh_from_db()
    version = feed_version(feed, now)
    return ICalendarFeedRenderer().render(feed_export(feed, version)), version.etag


def titles_at(feed: CalendarFeed, now: datetime) -> set[str]:
    return {str(event["SUMMARY"]) for event in parse_events(calendar_at(feed, now)[0])}


def slot(user, title: str, start: datetime, end: datetime | None, **fields) -> Slot:
    made = SlotFactory(creator=user, title=title, start=start, end=end, **fields)
    last_changed_long_ago(made)
    return made


def patch(api, feed_id: str, data: dict):
    return api.patch(f"{FEEDS}/{feed_id}", data, format="json")


# The window ----------------------------------------------------------------------------------


def test_a_window_starts_at_midnight_utc_past_days_before_the_fetch_and_holds_what_overlaps_it(user):
    first_day = MIDNIGHT - timedelta(days=2)
    slot(user, "at the first moment", first_day, first_day + timedelta(hours=1))
    slot(user, "open-ended at the first moment", first_day, None)
    slot(user, "across the first moment", first_day - timedelta(hours=1), first_day + timedelta(hours=1))
    slot(user, "ends at the first moment", first_day - timedelta(hours=1), first_day)
    slot(user, "open-ended just before", first_day - timedelta(seconds=1), None)
    feed = feed_of(user, past_days=2)
    last_changed_long_ago()

    # Overlap as the exports read `from`: an open-ended slot lasts from its start on.
    assert titles_at(feed, TODAY) == {
        "at the first moment", "open-ended at the first moment", "across the first moment", "open-ended just before",
    }


def test_a_window_ends_with_the_last_of_its_future_days_and_an_unbounded_side_holds_everything(user):
    end = MIDNIGHT + timedelta(days=2)
    slot(user, "last minute", end - timedelta(minutes=1), end)
    slot(user, "just after", end, end + timedelta(hours=1))
    slot(user, "years ago", datetime(2019, 5, 1, 9, tzinfo=UTC), None)
    feed = feed_of(user, future_days=1)
    last_changed_long_ago()

    assert titles_at(feed, TODAY) == {"last minute", "years ago"}


def test_an_all_day_slot_is_in_the_window_while_its_day_overlaps_it(user):
    # 8 March in Tokyo starts at 15:00 UTC on the 7th and overlaps the window's first day, the 8th.
    slot(user, "Tokyo's 8 March", datetime(2026, 3, 7, 15, tzinfo=UTC), datetime(2026, 3, 8, 15, tzinfo=UTC),
         all_day=True, time_zone="Asia/Tokyo")
    slot(user, "London's 7 March", datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC),
         all_day=True, time_zone="Europe/London")
    feed = feed_of(user, past_days=2)
    last_changed_long_ago()

    events = parse_events(calendar_at(feed, TODAY)[0])

    assert [(str(event["SUMMARY"]), event.decoded("DTSTART")) for event in events] == [
        ("Tokyo's 8 March", date(2026, 3, 8))
    ]


def test_one_days_fetches_give_the_same_bytes_and_the_next_day_drops_a_slot_with_a_new_etag(user):
    slot(user, "leaves at midnight", MIDNIGHT - timedelta(days=2, hours=-1), MIDNIGHT - timedelta(days=2, hours=-2))
    slot(user, "stays", MIDNIGHT + timedelta(hours=20), None)
    feed = feed_of(user, past_days=2)
    last_changed_long_ago()

    morning, evening = calendar_at(feed, MIDNIGHT), calendar_at(feed, MIDNIGHT + timedelta(hours=23, minutes=59))
    next_day = calendar_at(feed, MIDNIGHT + timedelta(days=1))

    assert morning == evening
    assert b"leaves at midnight" in morning[0]
    assert next_day[1] != morning[1]
    assert b"leaves at midnight" not in next_day[0] and b"stays" in next_day[0]
    assert feed_version(feed, MIDNIGHT + timedelta(days=1)).modified > feed_version(feed, MIDNIGHT).modified


def test_days_on_which_the_window_lets_nothing_in_or_out_keep_the_bytes_etag_and_last_modified(user):
    slot(user, "well inside", MIDNIGHT + timedelta(hours=9), MIDNIGHT + timedelta(hours=10))
    slot(user, "open-ended", MIDNIGHT - timedelta(days=30), None)
    feed = feed_of(user, past_days=3, future_days=3)
    last_changed_long_ago()

    fetches = [calendar_at(feed, MIDNIGHT + timedelta(days=days, hours=12)) for days in range(-2, 3)]
    # calendar_at() read the feed's long-ago moments back from the database.
    moments = {feed_version(feed, MIDNIGHT + timedelta(days=days)).modified for days in range(-2, 3)}

    assert all(fetched == fetches[0] for fetched in fetches)
    assert titles_at(feed, MIDNIGHT) == {"well inside", "open-ended"}
    assert len(moments) == 1


def test_a_slot_the_window_lets_in_at_its_future_edge_moves_the_etag_and_last_modified_to_that_midnight(user):
    slot(user, "inside", MIDNIGHT + timedelta(hours=9), MIDNIGHT + timedelta(hours=10))
    slot(user, "comes in", MIDNIGHT + timedelta(days=5, hours=8), MIDNIGHT + timedelta(days=5, hours=9))
    feed = feed_of(user, future_days=2)
    last_changed_long_ago()
    enters = MIDNIGHT + timedelta(days=3)

    before, after = calendar_at(feed, enters - timedelta(seconds=1)), calendar_at(feed, enters)

    assert b"comes in" not in before[0] and b"comes in" in after[0]
    assert after[1] != before[1]
    assert feed_version(feed, enters).modified == enters
    assert calendar_at(feed, enters + timedelta(hours=23)) == after


@pytest.mark.parametrize("seed", range(8))
def test_the_etag_changes_on_exactly_the_days_the_windows_slots_change_and_last_modified_never_goes_back(
    user, seed
):
    """Random slots against day-by-day windows: the version's ETag and moment (Last-Modified) move on a
    day if and only if the slots the window holds differ from the day before's, whatever their kinds."""
    rng = random.Random(seed)
    zones = ["UTC", "Asia/Tokyo", "America/Los_Angeles", "Europe/Berlin"]
    for number in range(40):
        # Often at a midnight, where a half-open window's edges lie.
        hour = rng.choice([0, rng.randrange(24)])
        start = MIDNIGHT + timedelta(days=rng.randrange(-12, 12), hours=hour, minutes=rng.choice([0, 0, 30]))
        kind = rng.choice(["timed", "zero-length", "open-ended", "all-day"])
        if kind == "all-day":
            zone = rng.choice(zones)
            local_midnight = datetime.combine(start.date(), datetime.min.time(), tzinfo=ZoneInfo(zone))
            days = timedelta(days=rng.choice([0, 1, 2]))
            start, end = local_midnight.astimezone(UTC), (local_midnight + days).astimezone(UTC)
            slot(user, f"slot {number}", start, end, all_day=True, time_zone=zone)
        else:
            timed = start + timedelta(hours=rng.choice([1, 5, 30]))
            end = {"timed": timed, "zero-length": start, "open-ended": None}[kind]
            slot(user, f"slot {number}", start, end)
    feed = feed_of(user, past_days=rng.choice([0, 1, 3]), future_days=rng.choice([0, 2, None]))
    last_changed_long_ago()
    feed.refresh_from_db()

    days = [MIDNIGHT + timedelta(days=days, hours=rng.randrange(24)) for days in range(-14, 15)]
    versions = [feed_version(feed, day) for day in days]
    held = [set(feed_slots(feed, version).values_list("uuid", flat=True)) for version in versions]

    for day in range(1, len(days)):
        changed = held[day] != held[day - 1]
        assert (versions[day].etag != versions[day - 1].etag) == changed, days[day]
        assert (versions[day].modified != versions[day - 1].modified) == changed, days[day]
        assert versions[day].modified >= versions[day - 1].modified
    assert len({frozenset(slots) for slots in held}) > 1


def test_last_modified_never_goes_back_when_the_newest_slot_is_edited_out_of_the_window(api, user):
    now = datetime.now(UTC)
    kept = SlotFactory(creator=user, title="kept", start=now, end=None)
    moved = SlotFactory(creator=user, title="moved", start=now, end=None)
    feed_path = path_of(create(api, {"past_days": 0, "future_days": 0}).json()["url"])
    last_changed_long_ago(kept, moved)
    Slot.objects.filter(pk=moved.pk).update(updated_at=now - timedelta(hours=1))
    before = fetch(feed_path)

    moved.start = now + timedelta(days=30)
    moved.save()
    after = fetch(feed_path)

    assert b"SUMMARY:moved" in before.body and b"SUMMARY:moved" not in after.body
    assert after["ETag"] != before["ETag"]
    assert parse_http_date(after["Last-Modified"]) >= parse_http_date(before["Last-Modified"])


def test_a_deleted_slot_is_gone_from_the_next_fetch_with_a_new_etag(api, user):
    doomed = SlotFactory(creator=user, title="doomed")
    feed_path = path_of(create(api).json()["url"])
    before = fetch(feed_path)

    doomed.delete()
    after = fetch(feed_path)

    assert b"SUMMARY:doomed" in before.body
    assert after.status_code == 200 and b"doomed" not in after.body and b"CANCELLED" not in after.body
    assert after["ETag"] != before["ETag"]


# The detail level ----------------------------------------------------------------------------


@pytest.fixture
def detailed_slot(user):
    return SlotFactory(
        creator=user, title="Dentist", description="Root canal", location="Dr. Weiss, Hauptstr. 3",
        visibility=Slot.Visibility.PUBLIC,
    )


def events_of(api, detail: str) -> list:
    return parse_events(fetch(path_of(create(api, {"detail_level": detail}).json()["url"])).body)


def test_a_full_feed_tells_everything(api, detailed_slot):
    (event,) = events_of(api, "full")

    assert (event["SUMMARY"], event["DESCRIPTION"], event["LOCATION"], event["CLASS"]) == (
        "Dentist", "Root canal", "Dr. Weiss, Hauptstr. 3", "PUBLIC"
    )


def test_a_titles_feed_leaves_out_description_and_location(api, detailed_slot):
    (event,) = events_of(api, "titles")

    assert event["SUMMARY"] == "Dentist" and event["CLASS"] == "PUBLIC"
    assert "DESCRIPTION" not in event and "LOCATION" not in event


def test_a_busy_feed_says_busy_and_private_even_of_a_public_slot(api, detailed_slot):
    (event,) = events_of(api, "busy")

    assert event["SUMMARY"] == "Busy" and event["CLASS"] == "PRIVATE"
    assert "DESCRIPTION" not in event and "LOCATION" not in event
    assert event.decoded("DTSTART") == detailed_slot.start and event["UID"] == str(detailed_slot.uuid)


def test_a_busy_feed_of_a_group_does_not_name_the_group(api, user):
    group = SlotGroupFactory(owner=user, name="Job interviews")
    SlotFactory(creator=user, title="Acme, second round", groups=[group])
    created = create(api, {"group": str(group.uuid), "detail_level": "busy"}).json()

    body = fetch(path_of(created["url"])).body
    calendar = Calendar.from_ical(body)

    assert b"Job interviews" not in body and b"Acme" not in body
    assert (str(calendar["NAME"]), str(calendar["X-WR-CALNAME"])) == ("Busy", "Busy")


def test_changing_the_detail_changes_the_next_fetch_and_its_validators_move_forward(api, detailed_slot):
    created = create(api).json()
    before = fetch(path_of(created["url"]))

    changed = patch(api, created["id"], {"detail_level": "busy"})
    after = fetch(path_of(created["url"]))

    assert changed.status_code == 200 and changed.json()["detail_level"] == "busy"
    assert changed["Cache-Control"] == "no-store"
    assert b"SUMMARY:Busy" in after.body and b"Dentist" not in after.body
    assert after["ETag"] != before["ETag"]
    assert parse_http_date(after["Last-Modified"]) >= parse_http_date(before["Last-Modified"])


def test_a_change_to_the_same_values_leaves_the_feed_and_its_etag_as_they_were(api, detailed_slot):
    created = create(api, {"past_days": 7}).json()
    before = fetch(path_of(created["url"]))

    assert patch(api, created["id"], {"past_days": 7, "detail_level": "full"}).status_code == 200
    assert fetch(path_of(created["url"]), If_None_Match=before["ETag"]).status_code == 304


# What a feed holds ---------------------------------------------------------------------------


def test_creating_changing_and_listing_report_the_slot_count_and_the_bytes_a_fetch_sends(api, user):
    now = datetime.now(UTC)
    for days in (0, 1, 2, 400):
        SlotFactory(creator=user, start=now + timedelta(days=days))
    created = create(api, {"future_days": 365}).json()
    first = fetch(path_of(created["url"]))

    changed = patch(api, created["id"], {"future_days": None, "detail_level": "titles"}).json()
    second = fetch(path_of(created["url"]))
    (listed,) = api.get(FEEDS).json()

    assert (created["slot_count"], created["bytes"], created["warnings"]) == (3, len(first.body), [])
    assert (changed["slot_count"], changed["bytes"], changed["future_days"]) == (4, len(second.body), None)
    assert (listed["slot_count"], listed["bytes"]) == (4, len(second.body))


def test_a_list_measures_feeds_up_to_its_slot_budget_and_leaves_the_others_bytes_null(api, user, settings):
    for days in (10, 11):
        SlotFactory(creator=user, start=datetime.now(UTC) + timedelta(days=days))
    small, large = create(api, {"future_days": 0, "past_days": 0}).json(), create(api).json()
    # The slots change: neither feed's version has been measured yet.
    SlotFactory(creator=user, start=datetime.now(UTC) + timedelta(days=1))
    settings.FEED_LIST_MEASURED_SLOTS = 2

    listed = {feed["id"]: feed for feed in api.get(FEEDS).json()}

    assert (listed[small["id"]]["slot_count"], listed[large["id"]]["slot_count"]) == (0, 3)
    assert listed[small["id"]]["bytes"] == len(fetch(path_of(small["url"])).body)
    assert listed[large["id"]]["bytes"] is None and listed[large["id"]]["warnings"] == []


def test_a_feed_over_googles_budget_is_warned_of_and_a_window_fixes_it(api, user):
    long_ago = datetime(2024, 1, 1, tzinfo=UTC)
    Slot.objects.bulk_create(
        Slot(creator=user, title=f"Slot {number}", description="x" * 1000, start=long_ago + timedelta(hours=number),
             end=long_ago + timedelta(hours=number + 1))
        for number in range(1000)
    )
    created = create(api).json()

    windowed = patch(api, created["id"], {"past_days": 30}).json()

    assert created["bytes"] > GOOGLE_BYTES_BUDGET
    (warning,) = created["warnings"]
    assert "Google" in warning and "past_days" in warning
    assert (windowed["slot_count"], windowed["warnings"]) == (0, [])


def test_a_feed_over_the_export_slot_limit_is_not_measured_and_is_warned_of(api, user, settings):
    SlotFactory.create_batch(2, creator=user)
    settings.EXPORT_MAX_SLOTS = 1

    created = create(api).json()

    assert (created["slot_count"], created["bytes"]) == (2, None)
    (warning,) = created["warnings"]
    assert "EXPORT_MAX_SLOTS" in warning and "window" in warning
    assert fetch(path_of(created["url"])).status_code == 422


# Links, bad values, rates --------------------------------------------------------------------


def test_creating_and_rotating_answer_the_https_webcal_and_google_links(api):
    created = create(api).json()
    rotated = api.post(f"{FEEDS}/{created['id']}/rotate").json()

    for answer in (created, rotated):
        assert answer["url"].startswith("http://testserver/v1/feeds/")
        assert answer["webcal_url"] == "webcal://" + answer["url"].split("://", 1)[1]
        google = urlsplit(answer["google_url"])
        assert (google.scheme, google.netloc, google.path) == ("https", "calendar.google.com", "/calendar/r")
        assert parse_qs(google.query) == {"cid": [answer["webcal_url"]]}
        assert "%3A%2F%2F" in google.query


@pytest.mark.parametrize("field, value", [
    ("past_days", -1), ("future_days", -3), ("past_days", "soon"), ("detail_level", "secret"), ("detail_level", None),
])
def test_a_bad_window_or_detail_is_422_naming_the_field_on_create_and_change(api, field, value):
    created = create(api).json()

    for response in (create(api, {field: value}), patch(api, created["id"], {field: value})):
        assert response.status_code == 422
        assert response["Content-Type"] == "application/json"
        assert field in response.json()
    assert CalendarFeed.objects.count() == 1


def test_changing_another_users_feed_is_404_and_changes_nothing(api, client_for):
    theirs = create(client_for(UserFactory())).json()

    assert patch(api, theirs["id"], {"detail_level": "busy"}).status_code == 404
    assert CalendarFeed.objects.get().detail_level == "full"


def test_changing_a_feed_counts_in_the_rate_of_feed_changes(api, settings):
    with_rates(settings, feed_change="2/hour")
    created = create(api).json()

    assert patch(api, created["id"], {"past_days": 7}).status_code == 200
    assert_throttled(patch(api, created["id"], {"past_days": 8}), period=3600)
