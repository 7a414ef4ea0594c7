"""A feed's fetches counted by the kind of client, told by its User-Agent: added up in the cache with the counts by
answer and written with them, once an interval; shown in the admin and in the feed list."""
import pytest
from django.urls import reverse

from export.fetch_counts import KINDS, client_kind
from export.models import CalendarFeed
from export.tests.test_feed_polls import feed_path  # noqa: F401 (a fixture)
from export.tests.test_feed_polls import interval_over
from export.tests.test_feeds import FEEDS, fetch

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shared_cache")]

GOOGLE = "Google-Calendar-Importer"
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)"
IPHONE = "iOS/17.5.1 (21F90) dataaccessd/1.0"
ICSX5 = "ICSx5/2.2.3 (ical4j/3.2.14 okhttp/4.12.0 Android/14)"


@pytest.mark.parametrize(("user_agent", "kind"), [
    (GOOGLE, "google"),
    ("Mozilla/5.0 (compatible; Google-Calendar-Importer)", "google"),
    (OUTLOOK, "microsoft"),
    ("Microsoft Exchange/15.20 (Windows NT 10.0; Win64; x64)", "microsoft"),
    ("Outlook-iOS/709.2226530.prod.iphone (4.2333.0)", "microsoft"),
    (IPHONE, "apple"),
    ("macOS/14.5 (23F79) CalendarAgent/1000", "apple"),
    ("Mac OS X/10.8 (12A269) CalendarAgent/47", "apple"),
    ("DAVKit/4.0.1 (730); CalendarStore/4.0.1 (973); iCal/4.0.1 (1374); Mac OS X/10.6.2 (10C540)", "apple"),
    ("Nextcloud Webcal Service", "open_source"),
    (ICSX5, "open_source"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.3.0", "open_source"),
    ("Evolution/3.50.4", "open_source"),
    # A browser on an iPhone or a Mac is not Apple's calendar.
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Mobile/15E148 Safari/604.1", "other"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Safari/605.1.15",
     "other"),
    ("curl/8.5.0", "other"),
    ("", "other"),
])
def test_the_kind_of_client_is_told_by_its_user_agent(user_agent, kind):
    assert client_kind(user_agent) == kind
    assert kind in KINDS


def test_the_clients_are_counted_in_the_cache_and_written_once_an_interval(feed_path):  # noqa: F811
    etag = fetch(feed_path, User_Agent=GOOGLE)["ETag"]
    for user_agent in (GOOGLE, GOOGLE, IPHONE, OUTLOOK):
        assert fetch(feed_path, If_None_Match=etag, User_Agent=user_agent).status_code == 304
    assert fetch(feed_path, method="head", User_Agent=IPHONE).status_code == 200
    assert fetch(feed_path).status_code == 200
    # Only the interval's first fetch is in the database yet.
    assert CalendarFeed.objects.get().fetch_clients == {"google": 1}

    interval_over()
    assert fetch(feed_path, If_None_Match=etag, User_Agent=ICSX5).status_code == 304

    feed = CalendarFeed.objects.get()
    assert feed.fetch_clients == {"google": 3, "apple": 2, "microsoft": 1, "other": 1, "open_source": 1}
    assert sum(feed.fetch_clients.values()) == feed.fetches_sent + feed.fetches_not_modified == 8


def test_the_counts_written_add_to_those_of_before(settings, feed_path):  # noqa: F811
    settings.FEED_FETCH_RECORD_SECONDS = 0
    etag = fetch(feed_path, User_Agent=GOOGLE)["ETag"]
    fetch(feed_path, If_None_Match=etag, User_Agent=GOOGLE)
    fetch(feed_path, If_None_Match=etag, User_Agent=IPHONE)

    assert CalendarFeed.objects.get().fetch_clients == {"google": 2, "apple": 1}


def test_with_the_cache_unreachable_each_fetch_adds_its_client_at_once(feed_path, unreachable_cache):  # noqa: F811
    etag = fetch(feed_path, User_Agent=OUTLOOK)["ETag"]
    fetch(feed_path, If_None_Match=etag, User_Agent=OUTLOOK)

    assert CalendarFeed.objects.get().fetch_clients == {"microsoft": 2}


def test_a_refused_fetch_counts_no_client(settings, feed_path):  # noqa: F811
    settings.FEED_FETCH_RECORD_SECONDS = 0
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "feed_fetch": "1/min"}}
    fetch(feed_path, User_Agent=GOOGLE)

    assert fetch(feed_path, User_Agent=GOOGLE).status_code == 429
    assert CalendarFeed.objects.get().fetch_clients == {"google": 1}


def test_the_feed_list_and_the_admin_show_the_clients(settings, api, staff_client, feed_path):  # noqa: F811
    settings.FEED_FETCH_RECORD_SECONDS = 0
    etag = fetch(feed_path, User_Agent=GOOGLE)["ETag"]
    fetch(feed_path, If_None_Match=etag, User_Agent=IPHONE)
    fetch(feed_path, If_None_Match=etag, User_Agent=GOOGLE)

    assert [feed["fetch_clients"] for feed in api.get(FEEDS).json()] == [{"google": 2, "apple": 1}]
    feed = CalendarFeed.objects.get()
    page = staff_client.get(reverse("admin:export_calendarfeed_change", args=[feed.pk])).content.decode()
    listed = staff_client.get(reverse("admin:export_calendarfeed_changelist")).content.decode()
    assert "Fetches by client" in page and "google 2, apple 1" in page
    assert "google 2, apple 1" in listed
