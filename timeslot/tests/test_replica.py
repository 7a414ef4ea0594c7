"""A read replica (DATABASE_REPLICA_URL, timeslot/db_routers.py), over real HTTP: a primary of the test's own
(initdb into a temporary folder, on a free loopback port), a streaming replica of it (pg_basebackup -R, on another),
a Redis of its own (the marks of read-your-writes live in the shared cache) and gunicorn with the production
settings on both databases.

Which database answered is shown by what it holds: with the replica's replay paused (pg_wal_replay_pause()), a
slot written by hand on the primary is on the primary alone. A write on the replica cannot happen unseen: a hot
standby refuses it ("cannot execute INSERT in a read-only transaction").
"""
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test.client import MULTIPART_CONTENT

from bench import served
from bench.replicas import (
    Cluster,
    Pair,
    postgres_folder,
    postgresql_bin,
    redis_server,
    service_environment,
    streaming_pair,
)
from export.tests.ical_reader import parse_events
from export.tests.test_faults import Answer, fetch, import_body

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: a streaming replica of a primary of its own, made with PostgreSQL's initdb and "
           "pg_basebackup",
)

GOOGLE = "/v1/export/google"
READ_ONLY = "read-only transaction"


@dataclass
class Deployment:
    pair: Pair
    server: served.Served
    tokens: dict[str, str]
    user_ids: dict[str, int]

    @property
    def primary(self) -> Cluster:
        return self.pair.primary

    @property
    def replica(self) -> Cluster:
        return self.pair.replica

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.server.port

    def headers(self, user: str, content_type: str = "application/json") -> dict:
        return {"Authorization": f"Token token={self.tokens[user]}", "Content-Type": content_type}

    def export(self, user: str) -> Answer:
        return fetch(self.address, "POST", GOOGLE, self.headers(user))

    def exported_titles(self, user: str) -> set[str]:
        answer = self.export(user)
        assert answer.status == 200, answer.body[:500]
        return titles(answer)

    def new_feed(self, user: str) -> str:
        answer = fetch(self.address, "POST", "/v1/feeds", self.headers(user))
        assert answer.status == 201, answer.body[:500]
        return urlsplit(answer.json()["url"]).path

    def write_by_hand(self, user: str, title: str) -> None:
        """A slot written on the primary with SQL, past the service: it marks no one."""
        self.primary.query(
            "INSERT INTO slots_slot (uuid, title, description, start, \"end\", all_day, location, time_zone,"
            " source_uid, source_series, visibility, creator_id, created_at, updated_at)"
            " VALUES (gen_random_uuid(), %s, '', now() + interval '1 day', now() + interval '25 hours', false, '',"
            " 'UTC', '', '', 'private', %s, now(), now())",
            [title, self.user_ids[user]],
        )

    def titles_on(self, cluster: Cluster, user: str) -> set[str]:
        rows = cluster.query("SELECT title FROM slots_slot WHERE creator_id = %s", [self.user_ids[user]])
        return {title for (title,) in rows}

    def caught_up(self) -> None:
        self.pair.caught_up()

    def replay_paused(self):
        return self.pair.replay_paused()

    def export_log(self, user: str) -> int:
        return self.primary.query("SELECT count(*) FROM export_exportlog WHERE user_id = %s",
                                  [self.user_ids[user]])[0][0]

    def readyz(self) -> Answer:
        return fetch(self.address, "GET", "/readyz")


def titles(answer: Answer) -> set[str]:
    return {str(event["SUMMARY"]) for event in parse_events(answer.body)}


USERS = ("ada", "bea", "cy", "dee")

MAKE_USERS = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
users = [get_user_model().objects.create_user(name) for name in NAMES]
print(json.dumps({user.username: [user.pk, Token.objects.create(user=user).key] for user in users}))
"""


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    logs = tmp_path_factory.mktemp("replica-logs")
    try:
        postgresql_bin()
    except RuntimeError as missing:
        pytest.fail(f"{missing} (.ci/run installs it)")
    with contextlib.ExitStack() as running:
        folder = running.enter_context(postgres_folder())
        pair = running.enter_context(streaming_pair(folder))
        # The replica back, the next read tries it.
        env = service_environment(pair, running.enter_context(redis_server(folder)), REPLICA_RETRY_SECONDS="0")
        made = served.run_checked(
            [str(served.BIN / "python"), "manage.py", "shell", "-c", f"NAMES = {USERS!r}\n{MAKE_USERS}"], env
        )
        accounts = json.loads(made.strip().splitlines()[-1])
        server = running.enter_context(served.gunicorn(env, ["--workers", "2"], log_folder=logs))
        deployment = Deployment(
            pair=pair, server=server,
            tokens={name: key for name, (_, key) in accounts.items()},
            user_ids={name: pk for name, (pk, _) in accounts.items()},
        )
        deployment.caught_up()
        yield deployment


def test_readyz_says_the_replica_answers(deployment):
    answer = deployment.readyz()

    assert answer.status == 200
    assert answer.json() == {
        "status": "ready", "checks": {"database": "ok", "cache": "ok", "migrations": "ok", "replica": "ok"},
    }


def test_an_export_reads_from_the_replica(deployment):
    deployment.write_by_hand("ada", "Replayed")
    deployment.caught_up()

    with deployment.replay_paused():
        deployment.write_by_hand("ada", "Primary only")
        lagging = deployment.exported_titles("ada")
        on_the_replica = deployment.titles_on(deployment.replica, "ada")
    deployment.caught_up()
    replayed = deployment.exported_titles("ada")

    assert deployment.titles_on(deployment.primary, "ada") == {"Replayed", "Primary only"}
    assert on_the_replica == lagging == {"Replayed"}
    assert replayed == {"Replayed", "Primary only"}
    # The export log's rows, written while the replica replayed nothing, went to the primary.
    assert deployment.export_log("ada") == 2
    assert READ_ONLY not in deployment.server.log.read_text()


def test_an_importer_reads_their_import_at_once_though_the_replica_lags(deployment):
    feed = deployment.new_feed("bea")
    deployment.caught_up()

    with deployment.replay_paused():
        imported = fetch(deployment.address, "POST", "/v1/import", deployment.headers("bea", MULTIPART_CONTENT),
                         import_body())
        exported = deployment.exported_titles("bea")
        fetched = fetch(deployment.address, "GET", feed)
        on_the_replica = deployment.titles_on(deployment.replica, "bea")

    assert imported.status == 200, imported.body[:500]
    assert imported.json()["created"] == 1
    # Only the primary has it: the importer's reads went there.
    assert on_the_replica == set()
    assert exported == {"Imported"}
    assert fetched.status == 200, fetched.body[:500]
    assert titles(fetched) == {"Imported"}
    assert READ_ONLY not in deployment.server.log.read_text()


def test_once_the_replica_has_replayed_a_users_write_their_reads_go_to_it_again(deployment):
    fetch(deployment.address, "POST", "/v1/import", deployment.headers("bea", MULTIPART_CONTENT), import_body())
    deployment.caught_up()

    with deployment.replay_paused():
        deployment.write_by_hand("bea", "Primary only")
        exported = deployment.exported_titles("bea")

    assert exported == {"Imported"}


def test_a_feed_fetch_reads_from_the_replica(deployment):
    feed = deployment.new_feed("cy")
    deployment.write_by_hand("cy", "Replayed")
    deployment.caught_up()

    with deployment.replay_paused():
        deployment.write_by_hand("cy", "Primary only")
        fetched = fetch(deployment.address, "GET", feed)

    assert fetched.status == 200, fetched.body[:500]
    assert titles(fetched) == {"Replayed"}
    assert deployment.titles_on(deployment.primary, "cy") == {"Replayed", "Primary only"}


def test_a_stopped_replica_leaves_the_reads_to_the_primary_until_it_is_back(deployment):
    feed = deployment.new_feed("dee")
    deployment.caught_up()

    deployment.replica.stop()
    try:
        deployment.write_by_hand("dee", "While away")
        exported = deployment.exported_titles("dee")
        fetched = fetch(deployment.address, "GET", feed)
        ready = deployment.readyz()
    finally:
        deployment.replica.start()
    deployment.caught_up()
    back = deployment.readyz()
    with deployment.replay_paused():
        deployment.write_by_hand("dee", "Primary only")
        exported_again = deployment.exported_titles("dee")

    assert exported == {"While away"}
    assert fetched.status == 200 and titles(fetched) == {"While away"}
    # Still ready: the primary serves the reads meanwhile.
    assert ready.status == 200
    assert ready.json() == {
        "status": "ready", "degraded": ["replica"],
        "checks": {"database": "ok", "cache": "ok", "migrations": "ok", "replica": "unreachable"},
    }
    assert back.status == 200 and back.json()["checks"]["replica"] == "ok"
    # The replica read again.
    assert exported_again == {"While away"}
    log = deployment.server.log.read_text()
    assert "The replica is unreachable, reads go to the primary" in log
    assert "Traceback" not in log
