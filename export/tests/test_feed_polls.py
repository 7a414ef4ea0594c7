"""A poll that finds nothing new: no write, at most the feed's one read; its counts kept in the cache and
written once an interval; and how long a client may keep the calendar without asking again."""
import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from redis.connection import AbstractConnection
from rest_framework.test import APIClient

from export.imports.service import import_slots
from export.models import CalendarFeed
from export.tests.importing import calendar
from export.tests.test_export_log import hang_up
from export.tests.test_feeds import create, fetch, last_changed_long_ago, path_of
from slots.models import Slot
from slots.tests.factories import SlotFactory

# Each on both caches the service runs on: the counts and versions kept there must hold on Redis too.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shared_cache")]


@pytest.fixture
def feed_path(api, user):
    SlotFactory.create_batch(3, creator=user)
    path = path_of(create(api).json()["url"])
    # Changed long ago: within the second of a change, Last-Modified moves on as that second ends.
    last_changed_long_ago(*Slot.objects.all())
    return path


def statements(queries: CaptureQueriesContext, *verbs: str) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if query["sql"].lstrip().upper().startswith(verbs)]


def interval_over() -> None:
    """FEED_FETCH_RECORD_SECONDS gone by for every feed: its mark in the cache expired."""
    for feed in CalendarFeed.objects.all():
        cache.delete(f"feed_fetch_recorded_{feed.pk}")


@pytest.mark.parametrize("method", ["get", "head"])
def test_a_poll_within_the_interval_reads_and_writes_nothing(feed_path, method):
    etag = fetch(feed_path)["ETag"]

    with CaptureQueriesContext(connection) as queries:
        response = fetch(feed_path, method=method, If_None_Match=etag) if method == "get" else (
            fetch(feed_path, method="head"))

    assert response.status_code == (304 if method == "get" else 200)
    # What the secret opens and the feed's version, both kept in the cache (export/feed_access.py,
    # export/feed_versions.py); the first fetch recorded the interval.
    assert queries.captured_queries == []


def test_the_first_poll_after_the_interval_writes_one_update_of_the_counts(feed_path):
    etag = fetch(feed_path)["ETag"]
    interval_over()

    with CaptureQueriesContext(connection) as queries:
        assert fetch(feed_path, If_None_Match=etag).status_code == 304

    writes = statements(queries, "INSERT", "UPDATE", "DELETE")
    assert len(writes) == 1 and writes[0].startswith("UPDATE") and "export_calendarfeed" in writes[0]


def test_the_counts_equal_the_polls_made_once_flushed(feed_path):
    etag = fetch(feed_path)["ETag"]
    for _ in range(4):
        assert fetch(feed_path, If_None_Match=etag).status_code == 304
    for _ in range(2):
        assert fetch(feed_path, method="head").status_code == 200
    assert fetch(feed_path).status_code == 200
    # Only the first fetch of the interval is in the database yet.
    feed = CalendarFeed.objects.get()
    assert (feed.fetches_sent, feed.fetches_not_modified) == (1, 0)
    first = feed.last_fetched_at

    interval_over()
    assert fetch(feed_path, If_None_Match=etag).status_code == 304

    feed = CalendarFeed.objects.get()
    # 200: the first GET, two HEADs, the last GET; 304: four, and the one that flushed.
    assert (feed.fetches_sent, feed.fetches_not_modified) == (4, 5)
    assert feed.last_fetched_at > first


def test_a_full_fetch_that_flushes_writes_the_counts_even_if_its_client_goes_away(feed_path):
    etag = fetch(feed_path)["ETag"]
    for _ in range(2):
        assert fetch(feed_path, If_None_Match=etag).status_code == 304
    interval_over()

    response = APIClient().get(feed_path)
    assert response.status_code == 200
    # Gone before the first byte: the export's read, in a transaction of its own, is undone; the counts are
    # written after it.
    hang_up(response)

    feed = CalendarFeed.objects.get()
    assert (feed.fetches_sent, feed.fetches_not_modified) == (1, 2)


def test_with_an_interval_of_zero_each_poll_is_written_at_once(settings, feed_path):
    settings.FEED_FETCH_RECORD_SECONDS = 0
    etag = fetch(feed_path)["ETag"]
    fetch(feed_path, If_None_Match=etag)
    fetch(feed_path, method="head")

    feed = CalendarFeed.objects.get()
    assert (feed.fetches_sent, feed.fetches_not_modified) == (2, 1)


def test_a_slot_changed_after_a_poll_is_not_hidden_by_the_cached_version(user, feed_path):
    etag = fetch(feed_path)["ETag"]
    assert fetch(feed_path, If_None_Match=etag).status_code == 304

    Slot.objects.filter(creator=user).first().delete()

    assert fetch(feed_path, If_None_Match=etag).status_code == 200


def test_an_import_changing_a_slot_is_not_hidden_by_the_cached_version(user, feed_path):
    slot = Slot.objects.filter(creator=user).first()
    etag = fetch(feed_path)["ETag"]
    assert fetch(feed_path, If_None_Match=etag).status_code == 304

    # The import's bulk_update sends no signal.
    result = import_slots(user=user, data=calendar(
        f"UID:{slot.uuid}\nSUMMARY:Renamed\nDTSTART:20261207T090000Z\nDTEND:20261207T100000Z").encode())

    assert result.updated == 1
    assert fetch(feed_path, If_None_Match=etag).status_code == 200


def test_with_the_cache_unreachable_a_poll_is_answered_and_written_at_once(feed_path, unreachable_cache):
    etag = fetch(feed_path)["ETag"]

    assert fetch(feed_path, If_None_Match=etag).status_code == 304

    feed = CalendarFeed.objects.get()
    assert (feed.fetches_sent, feed.fetches_not_modified) == (1, 1)


@pytest.mark.parametrize("method", ["get", "head"])
def test_a_feed_may_be_kept_a_quarter_of_its_refresh_interval_privately(feed_path, method):
    full = fetch(feed_path, method=method)
    not_modified = fetch(feed_path, If_None_Match=full["ETag"])

    assert full["Cache-Control"] == not_modified["Cache-Control"] == "private, max-age=900"
    assert not_modified.status_code == 304
    assert full["ETag"] and full["Last-Modified"] and not_modified["ETag"] and not_modified["Last-Modified"]


@pytest.fixture
def round_trips(monkeypatch):
    """The commands and pipelines redis-py sends to the shared cache: each one round trip."""
    if not isinstance(caches["default"], RedisCache):
        pytest.skip("round trips to Redis: each process's memory has none")
    sent = []
    original = AbstractConnection.send_packed_command

    def counted(self, *args, **kwargs):
        sent.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    return sent


def test_a_poll_within_the_interval_takes_three_round_trips_to_the_cache(feed_path, round_trips):
    etag = fetch(feed_path)["ETag"]
    round_trips.clear()

    assert fetch(feed_path, If_None_Match=etag).status_code == 304

    # The address's failed authentications; the feed's fetch count with its version; its counts with the
    # interval's record.
    assert len(round_trips) == 3


def test_a_wrong_secret_takes_two_round_trips_to_the_cache(feed_path, round_trips):
    fetch(feed_path.replace(feed_path[-10:-4], "abcdef"))
    round_trips.clear()

    assert fetch(feed_path.replace(feed_path[-10:-4], "abcdef")).status_code == 404

    assert len(round_trips) == 2


def test_a_full_fetch_from_the_kept_bytes_takes_five_round_trips_to_the_cache(feed_path, round_trips):
    fetch(feed_path)
    round_trips.clear()

    assert fetch(feed_path).status_code == 200

    # The address's failed authentications with what the secret opens; the feed's fetch count with its
    # version; the owner's export count with the kept bytes; the interval's record; the counts, at the end.
    assert len(round_trips) == 5
