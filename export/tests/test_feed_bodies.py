"""A full fetch of a feed whose version was sent whole before is answered with the bytes it was sent as, kept in
the cache by its ETag: no slot read, the same bytes and headers, counted and logged as a calendar written now."""
import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIRequestFactory

from export import feed_bodies
from export.api.feed_views import FeedCalendarView
from export.models import CalendarFeed, ExportLog
from export.tests.ical_reader import parse_calendar
from export.tests.test_export_log import hang_up
from export.tests.test_feed_polls import feed_path  # noqa: F401 (a fixture)
from export.tests.test_feed_polls import interval_over, round_trips, statements  # noqa: F401 (a fixture)
from export.tests.test_feeds import create, fetch, last_changed_long_ago, path_of
from slots.models import Slot
from slots.tests.factories import SlotFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shared_cache")]

# What a cached answer must send as a written one does.
HEADERS = ("ETag", "Last-Modified", "Content-Type", "Cache-Control", "Content-Disposition", "Content-Length")


def slot_reads(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if '"slots_slot"' in query["sql"]]


def forget_kept() -> None:
    """Every calendar kept forgotten: the shared cache's and this process's."""
    cache.clear()
    feed_bodies.in_process.clear()


def kept_keys() -> list[str]:
    """The feed bodies in the cache, whichever cache the test runs on."""
    location = getattr(cache, "_cache", None)
    if hasattr(location, "get_client"):
        prefix = cache.make_key("feed_body_")
        return [key.decode() for key in location.get_client().scan_iter(f"{prefix}*")]
    return [key for key in cache._cache if "feed_body_" in key]


def test_the_second_full_fetch_reads_no_slot_and_sends_the_same_bytes_and_headers(feed_path):  # noqa: F811
    first = fetch(feed_path)
    interval_over()

    with CaptureQueriesContext(connection) as queries:
        second = fetch(feed_path)

    assert first.status_code == second.status_code == 200
    assert second.body == first.body
    assert parse_calendar(second.body) == parse_calendar(first.body)
    assert len(parse_calendar(second.body).walk("VEVENT")) == 3
    assert {name: second.get(name) for name in HEADERS} == {name: first.get(name) for name in HEADERS}
    assert second["Content-Type"] == "text/calendar; charset=utf-8" and second.get("Content-Disposition") is None
    assert slot_reads(queries) == []
    # The counts' update and the log row: what a written calendar's first fetch of an interval does besides
    # reading the slots. The feed its secret opens is kept in the cache (export/feed_access.py).
    assert statements(queries, "SELECT") == []
    assert len(statements(queries, "INSERT", "UPDATE", "DELETE")) == 2


def test_within_the_interval_a_cached_full_fetch_reads_and_writes_nothing(feed_path):  # noqa: F811
    fetch(feed_path)

    with CaptureQueriesContext(connection) as queries:
        assert fetch(feed_path).status_code == 200

    assert queries.captured_queries == []


def test_a_slot_changed_gives_new_bytes(user, feed_path):  # noqa: F811
    first = fetch(feed_path)
    assert fetch(feed_path).body == first.body
    slot = Slot.objects.filter(creator=user).first()
    slot.title = "Moved to Thursday"
    slot.save()

    with CaptureQueriesContext(connection) as queries:
        changed = fetch(feed_path)

    assert changed["ETag"] != first["ETag"]
    assert b"SUMMARY:Moved to Thursday" in changed.body and b"Moved to Thursday" not in first.body
    assert slot_reads(queries)
    # And the new bytes are the ones kept from now on.
    assert fetch(feed_path).body == changed.body


def test_a_cached_answer_is_logged_and_counted_as_a_written_one(settings, feed_path):  # noqa: F811
    settings.FEED_FETCH_RECORD_SECONDS = 0
    written = fetch(feed_path)
    with CaptureQueriesContext(connection) as queries:
        cached = fetch(feed_path)
    assert slot_reads(queries) == []

    rows = list(ExportLog.objects.order_by("pk"))
    assert len(rows) == 2
    described = [(row.kind, row.user_id, row.group_id, row.slot_count, row.bytes, row.status, row.client_address)
                 for row in rows]
    assert described[0] == described[1] == (
        ExportLog.Kind.FEED, rows[0].user_id, None, 3, len(written.body), 200, "127.0.0.1")
    assert len(cached.body) == len(written.body)
    assert CalendarFeed.objects.get().fetches_sent == 2


def test_a_cached_answer_counts_in_the_owners_export_rate(settings, feed_path):  # noqa: F811
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "export": "2/min"}}

    assert [fetch(feed_path).status_code for _ in range(3)] == [200, 200, 429]


def test_a_feed_over_the_bound_is_never_kept(settings, feed_path):  # noqa: F811
    first = fetch(feed_path)
    settings.FEED_BODY_CACHED_MAX_BYTES = len(first.body) - 1
    forget_kept()
    fetch(feed_path)

    with CaptureQueriesContext(connection) as queries:
        again = fetch(feed_path)

    assert again.body == first.body
    assert slot_reads(queries)
    assert kept_keys() == [] and feed_bodies.in_process.bodies == {}


def test_a_feed_of_the_bound_exactly_is_kept(settings, feed_path):  # noqa: F811
    settings.FEED_BODY_CACHED_MAX_BYTES = len(fetch(feed_path).body)
    forget_kept()
    fetch(feed_path)

    with CaptureQueriesContext(connection) as queries:
        fetch(feed_path)

    assert slot_reads(queries) == [] and len(kept_keys()) == 1


def test_a_bound_of_zero_keeps_nothing(settings, feed_path):  # noqa: F811
    settings.FEED_BODY_CACHED_MAX_BYTES = 0
    fetch(feed_path)

    with CaptureQueriesContext(connection) as queries:
        fetch(feed_path)

    assert slot_reads(queries) and kept_keys() == []


def calendar_of_several_chunks(api, user) -> str:
    """A feed whose calendar streams in several chunks (of about 64 KB)."""
    SlotFactory.create_batch(300, creator=user, description="long text " * 50)
    path = path_of(create(api).json()["url"])
    last_changed_long_ago(*Slot.objects.all())
    return path


def straight_to_the_view(path: str):
    # Not through the test client, which reads a stream whole to close it.
    request = APIRequestFactory().get(path)
    return FeedCalendarView.as_view()(request, secret=path.rsplit("/", 1)[1].removesuffix(".ics"))


def test_a_stream_cut_off_by_its_client_is_not_kept(api, user):
    path = calendar_of_several_chunks(api, user)
    response = straight_to_the_view(path)
    stream = iter(response.streaming_content)
    next(stream)
    next(stream)

    hang_up(response)

    assert kept_keys() == []
    with CaptureQueriesContext(connection) as queries:
        whole = fetch(path)
    assert slot_reads(queries)
    assert len(parse_calendar(whole.body).walk("VEVENT")) == 300
    # Sent whole this time: kept.
    assert len(kept_keys()) == 1


def test_a_client_that_goes_away_from_a_cached_answer_leaves_a_499_row(settings, api, user):
    settings.FEED_FETCH_RECORD_SECONDS = 0
    path = calendar_of_several_chunks(api, user)
    whole = fetch(path)

    hang_up(straight_to_the_view(path))

    rows = list(ExportLog.objects.order_by("pk"))
    assert [(row.status, row.slot_count, row.bytes) for row in rows] == [
        (200, 300, len(whole.body)), (499, 300, len(whole.body))]


def test_with_the_cache_unreachable_each_full_fetch_writes_the_calendar(
    feed_path, unreachable_cache, caplog,  # noqa: F811
):
    first, second = fetch(feed_path), fetch(feed_path)

    assert first.status_code == second.status_code == 200
    assert second.body == first.body and len(parse_calendar(second.body).walk("VEVENT")) == 3
    assert "The cache is unreachable: a feed's calendar is written again." in caplog.text


def test_each_feed_and_detail_has_its_own_bytes(api, user):
    SlotFactory.create_batch(2, creator=user, description="Room 4.12")
    full = path_of(create(api).json()["url"])
    busy = path_of(create(api, {"detail_level": "busy"}).json()["url"])
    last_changed_long_ago(*Slot.objects.all())
    written = {path: fetch(path).body for path in (full, busy)}

    with CaptureQueriesContext(connection) as queries:
        kept = {path: fetch(path).body for path in (busy, full)}

    assert kept == written and written[full] != written[busy]
    assert b"Room 4.12" in kept[full] and b"Room 4.12" not in kept[busy]
    assert slot_reads(queries) == [] and len(kept_keys()) == 2


def test_a_changed_detail_level_gives_new_bytes(api, feed_path):  # noqa: F811
    first = fetch(feed_path)
    feed_id = api.get("/v1/feeds").json()[0]["id"]
    assert api.patch(f"/v1/feeds/{feed_id}", {"detail_level": "busy"}, format="json").status_code == 200

    changed = fetch(feed_path)

    assert changed["ETag"] != first["ETag"] and changed.body != first.body
    assert b"SUMMARY:Busy" in changed.body


def test_a_calendar_this_process_has_is_not_carried_out_of_the_cache(feed_path, round_trips):  # noqa: F811
    first = fetch(feed_path)
    round_trips.clear()

    again = fetch(feed_path)

    assert again.body == first.body
    # Only its name travels: no command reads the kept calendar from Redis.
    sent = b"".join(b"".join(part if isinstance(part, bytes) else b"" for part in args[0]) for args in round_trips)
    assert b"feed_body_" not in sent


def test_a_process_keeps_its_calendars_within_its_bound():
    bodies = feed_bodies.ProcessBodies(bound=10)
    for name in "abc":
        bodies.put(name, feed_bodies.KeptBody(b"x" * 4, 1))
    bodies.put("large", feed_bodies.KeptBody(b"x" * 11, 1))

    assert list(bodies.bodies) == ["b", "c"] and bodies.size == 8
    assert bodies.get("b") is not None and list(bodies.bodies) == ["c", "b"]
