"""What a feed's secret opens, kept in the shared cache (export/feed_access.py): a known feed's poll reads no row,
and whatever closes a secret or changes what it opens is seen from the next fetch on, the cache warm."""
import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from export.feed_access import access_key, generation_key
from export.feed_secrets import secret_hash
from export.models import CalendarFeed
from export.tests.test_feeds import create, fetch, not_found, path_of
from slots.tests.factories import SlotFactory, SlotGroupFactory, UserFactory

# On both caches the service runs on.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shared_cache")]


def secret_of(path: str) -> str:
    return path.rsplit("/", 1)[1].removesuffix(".ics")


def kept(path: str):
    """The kept answer for the path's secret, if it is still good: its generation that of the hash."""
    digest = secret_hash(secret_of(path))
    entry, generation = cache.get(access_key(digest)), cache.get(generation_key(digest))
    return entry[1] if entry is not None and generation is not None and entry[0] == generation else None


def warm(path: str) -> None:
    """Fetched twice: the second from what the first kept."""
    assert fetch(path).status_code == 200
    assert kept(path) is not None
    with CaptureQueriesContext(connection) as queries:
        etag = fetch(path)["ETag"]
        assert fetch(path, If_None_Match=etag).status_code == 304
    assert not [query for query in queries.captured_queries if "export_calendarfeed" in query["sql"]
                and query["sql"].lstrip().upper().startswith("SELECT")]


def assert_closed(path: str) -> None:
    response = fetch(path)
    assert response.status_code == 404
    assert response.body == not_found(response)


@pytest.fixture
def feed_path(api, user):
    SlotFactory.create_batch(2, creator=user)
    return path_of(create(api).json()["url"])


def test_a_known_feed_is_kept_without_its_owners_password_hash(user, feed_path):
    warm(feed_path)

    feed = kept(feed_path)
    assert feed.owner_id == user.pk and "password" in feed.owner.get_deferred_fields()


def test_a_wrong_secret_keeps_nothing(feed_path):
    wrong = feed_path.replace(secret_of(feed_path), "x" * 43)

    assert fetch(wrong).status_code == 404

    digest = secret_hash(secret_of(wrong))
    assert cache.get(access_key(digest)) is None and cache.get(generation_key(digest)) is None


def test_a_revoked_feed_is_closed_at_once(api, feed_path):
    warm(feed_path)

    assert api.delete(f"/v1/feeds/{CalendarFeed.objects.get().uuid}").status_code == 204

    assert_closed(feed_path)


def test_a_rotated_secret_is_closed_at_once_and_the_new_one_opens_the_feed(api, feed_path):
    warm(feed_path)

    new = path_of(api.post(f"/v1/feeds/{CalendarFeed.objects.get().uuid}/rotate").json()["url"])

    assert_closed(feed_path)
    assert fetch(new).status_code == 200


def test_an_owner_made_inactive_closes_their_feeds_at_once(user, feed_path):
    warm(feed_path)

    user.is_active = False
    user.save()

    assert_closed(feed_path)


def test_a_deleted_owner_leaves_no_feed_open(user, feed_path):
    warm(feed_path)

    user.delete()

    assert_closed(feed_path)


@pytest.fixture
def member_feed(client_for):
    """A member's feed of someone else's group."""
    owner, member = UserFactory(), UserFactory()
    group = SlotGroupFactory(owner=owner)
    group.members.add(member)
    path = path_of(create(client_for(member), {"group": str(group.uuid)}).json()["url"])
    return group, member, path


@pytest.mark.parametrize("how", ["group.members.remove", "member.slot_groups.remove", "group.members.clear",
                                 "member.slot_groups.clear"])
def test_a_member_who_leaves_the_group_from_either_side_loses_its_feed_at_once(member_feed, how):
    group, member, path = member_feed
    warm(path)

    if how.startswith("group"):
        getattr(group.members, how.rsplit(".", 1)[1])(*([member] if how.endswith("remove") else []))
    else:
        getattr(member.slot_groups, how.rsplit(".", 1)[1])(*([group] if how.endswith("remove") else []))

    assert_closed(path)


def test_a_group_given_to_another_owner_closes_its_old_owners_feed_of_it(client_for, user):
    group = SlotGroupFactory(owner=user)
    path = path_of(create(client_for(user), {"group": str(group.uuid)}).json()["url"])
    warm(path)

    group.owner = UserFactory()
    group.save()

    assert_closed(path)


def test_a_deleted_group_closes_its_feeds(member_feed):
    group, _, path = member_feed
    warm(path)

    group.delete()

    assert_closed(path)


def test_a_renamed_group_gives_its_feed_a_new_calendar_at_once(member_feed):
    group, _, path = member_feed
    warm(path)
    etag = fetch(path)["ETag"]

    group.name = "Renamed"
    group.save()

    response = fetch(path, If_None_Match=etag)
    assert response.status_code == 200 and b"X-WR-CALNAME:Renamed" in response.body


def test_a_changed_window_applies_from_the_next_fetch(api, feed_path):
    warm(feed_path)
    feed = CalendarFeed.objects.get()

    assert api.patch(f"/v1/feeds/{feed.uuid}", {"future_days": 1}, format="json").status_code == 200

    assert kept(feed_path) is None
    fetch(feed_path)
    assert kept(feed_path).future_days == 1


def test_a_login_keeps_what_the_secret_opens(user, feed_path, client):
    warm(feed_path)
    user.set_password("a password of the test")
    user.save()
    warm(feed_path)

    assert client.login(username=user.username, password="a password of the test")

    assert kept(feed_path) is not None


def test_with_the_cache_unreachable_the_secret_is_looked_up_in_the_database(feed_path, unreachable_cache):
    assert fetch(feed_path).status_code == 200
    assert fetch(feed_path.replace(secret_of(feed_path), "x" * 43)).status_code == 404
