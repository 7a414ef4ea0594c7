"""Which database each read and write goes to (timeslot/db_routers.py), with a "replica" alias that is a second
connection to the test database, as Django's TEST MIRROR makes one: within a scope of replica_reads() and outside
it, inside a transaction on the primary, while a streamed answer is drawn, after a write, and with the replica
unreachable. That it is a real replica, lagging, paused and stopped, is timeslot/tests/test_replica.py's part.
"""
import logging

import pytest
from django.db import connection, connections, router, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from bench import served
from export.tests.test_faults import slots_for
from slots.models import Slot
from slots.tests.factories import UserFactory
from timeslot import db_routers
from timeslot.db_routers import REPLICA, ReplicaRouter, mark_key, read_within_scope, replica_reads

# A read of the slots (not of their groups, slots_slotgroup).
SLOTS = 'FROM "slots_slot"'

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", REPLICA]),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: the replica is asked its replay position (pg_last_wal_replay_lsn()), the primary "
               "its WAL's (pg_current_wal_lsn())",
    ),
]


@pytest.fixture(scope="module", autouse=True)
def replica(django_db_setup, django_db_blocker):
    """DATABASES gains "replica", a second connection to the test database, and DATABASE_ROUTERS the router, for
    this module's tests only; added before their test case is made, which then allows the alias."""
    if connection.vendor != "postgresql":
        yield None
        return
    with django_db_blocker.unblock():
        connections.settings[REPLICA] = {**connection.settings_dict}
    routers = router.routers
    router.routers = [ReplicaRouter()]
    try:
        yield connections.settings[REPLICA]
    finally:
        router.routers = routers
        connections[REPLICA].close()
        del connections[REPLICA]
        del connections.settings[REPLICA]


@pytest.fixture(autouse=True)
def replica_tried_afresh(monkeypatch):
    monkeypatch.setattr(db_routers, "_unreachable_until", 0.0)


@pytest.fixture
def unreachable_replica(replica):
    """The replica's address a loopback port just closed."""
    port = replica["PORT"]
    connections[REPLICA].close()
    replica["PORT"] = str(served.free_port())
    yield
    connections[REPLICA].close()
    replica["PORT"] = port


def test_outside_a_scope_every_read_and_write_goes_to_the_primary(user):
    assert Slot.objects.all().db == "default"
    assert router.db_for_write(Slot) == "default"


def test_within_a_scope_reads_go_to_the_replica_and_writes_to_the_primary(user):
    slots_for(user, 1)

    with replica_reads(user):
        read = Slot.objects.get(creator=user)
        assert Slot.objects.all().db == REPLICA
        assert router.db_for_write(Slot, instance=read) == "default"
    # Django's default routing would send an object read from the replica back to it.
    assert read._state.db == REPLICA
    assert router.db_for_read(Slot, instance=read) == "default"


def test_inside_a_transaction_on_the_primary_reads_stay_on_it(user):
    with transaction.atomic(), replica_reads(user):
        assert Slot.objects.all().db == "default"


def test_a_stream_is_drawn_and_closed_within_the_scope_it_began_in(user):
    seen = []

    def chunks():
        try:
            for _ in range(3):
                seen.append(Slot.objects.all().db)
                yield b"x"
        finally:
            seen.append(("closed", Slot.objects.all().db))

    with replica_reads(user):
        stream = read_within_scope(chunks())
    next(stream), next(stream)
    stream.close()

    assert seen == [REPLICA, REPLICA, ("closed", REPLICA)]
    assert Slot.objects.all().db == "default"


def test_a_write_marks_its_user_with_the_primarys_position_after_it_commits(user, settings):
    other = UserFactory(username="other")
    with transaction.atomic():
        slots_for(user, 1)
        Slot.objects.filter(creator=user).first().save()
        assert db_routers.cache.get(mark_key(user.pk)) is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::pg_lsn <= pg_current_wal_lsn()", [db_routers.cache.get(mark_key(user.pk))])
        (behind_the_end,) = cursor.fetchone()

    assert behind_the_end
    assert db_routers.cache.get(mark_key(other.pk)) is None


def test_an_export_reads_its_slots_from_the_replica_and_writes_its_log_to_the_primary(api, user):
    slots_for(user, 3)

    with CaptureQueriesContext(connections[REPLICA]) as on_replica, CaptureQueriesContext(connection) as on_primary:
        response = api.post("/v1/export/google")
        body = b"".join(response.streaming_content)
        response.close()

    assert response.status_code == 200 and body.count(b"BEGIN:VEVENT") == 3
    replica_sql = " ".join(query["sql"] for query in on_replica.captured_queries)
    primary_sql = [query["sql"] for query in on_primary.captured_queries]
    assert "pg_last_wal_replay_lsn" in replica_sql and SLOTS in replica_sql
    assert not [sql for sql in primary_sql if SLOTS in sql]
    assert [sql for sql in primary_sql if sql.startswith("INSERT") and "export_exportlog" in sql]
    assert not [query for query in on_replica.captured_queries if query["sql"].startswith(("INSERT", "UPDATE"))]


def test_a_feed_fetch_reads_its_version_and_calendar_from_the_replica(api, user):
    slots_for(user, 2)
    path = reverse("feed-calendar", kwargs={"secret": api.post("/v1/feeds").json()["url"].rsplit("/", 1)[1][:-4]})

    with CaptureQueriesContext(connections[REPLICA]) as on_replica, CaptureQueriesContext(connection) as on_primary:
        response = APIClient().get(path)
        body = b"".join(response.streaming_content)
        response.close()

    assert response.status_code == 200 and body.count(b"BEGIN:VEVENT") == 2
    replica_sql = [query["sql"] for query in on_replica.captured_queries]
    # The version's aggregate, then the calendar's rows.
    assert [sql for sql in replica_sql if "MAX(" in sql.upper() and SLOTS in sql]
    assert [sql for sql in replica_sql if SLOTS in sql and "ORDER BY" in sql]
    # The feed by its secret, from the primary: one just made or rotated is found at once.
    assert [query for query in on_primary.captured_queries if "export_calendarfeed" in query["sql"]]
    assert not [query for query in on_primary.captured_queries if SLOTS in query["sql"]]


def test_the_admin_preview_reads_from_the_replica(staff_client, user):
    slots_for(user, 2)

    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        page = staff_client.get(reverse("admin:auth_user_export_preview", args=[user.pk]))
        download = staff_client.get(reverse("admin:auth_user_export_download", args=[user.pk]))
        body = b"".join(download.streaming_content)
        download.close()

    assert page.status_code == 200 and download.status_code == 200 and body.count(b"BEGIN:VEVENT") == 2
    reads = [query["sql"] for query in on_replica.captured_queries if SLOTS in query["sql"]]
    # The page's count and calendar, the download's calendar.
    assert len(reads) >= 3


def test_an_unreachable_replica_leaves_the_reads_to_the_primary_and_is_tried_again_later(
    unreachable_replica, user, settings, caplog
):
    settings.REPLICA_RETRY_SECONDS = 60
    caplog.set_level(logging.WARNING, logger="timeslot.db_routers")

    with replica_reads(user):
        first = Slot.objects.all().db
    with replica_reads(user):
        second = Slot.objects.all().db

    assert first == second == "default"
    # Tried once: the second scope did not wait for another refused connection.
    assert [record.getMessage()[:54] for record in caplog.records] == [
        "The replica is unreachable, reads go to the primary fo"
    ]


def test_readyz_says_whether_the_replica_answers(client):
    answer = client.get("/readyz")

    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ready", "checks": {"database": "ok", "cache": "ok", "migrations": "ok", "replica": "ok"},
    }


def test_readyz_stays_ready_without_the_replica_and_says_so(unreachable_replica, client):
    answer = client.get("/readyz")

    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ready", "degraded": ["replica"],
        "checks": {"database": "ok", "cache": "ok", "migrations": "ok", "replica": "unreachable"},
    }
