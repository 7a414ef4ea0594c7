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
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest
from django.db import connection
from django.test.client import MULTIPART_CONTENT

from bench import served
from export.tests.ical_reader import parse_events
from export.tests.test_faults import Answer, fetch, import_body

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: a streaming replica of a primary of its own, made with PostgreSQL's initdb and "
           "pg_basebackup",
)

# Bounded waits for what the servers do; never an assertion on how long it took.
PATIENCE = 60
DATABASE = "timeslot"
GOOGLE = "/v1/export/google"
READ_ONLY = "read-only transaction"


def postgresql_bin() -> Path:
    """The newest installed PostgreSQL's programs (Debian's /usr/lib/postgresql/<version>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    if not found:
        pytest.fail("PostgreSQL's server programs are missing: apt-get install -y postgresql (.ci/run installs it).")
    return found[-1].parent


def as_postgres(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def run(command: list[str]) -> str:
    completed = subprocess.run(as_postgres(command), capture_output=True, text=True, stdin=subprocess.DEVNULL,
                               timeout=PATIENCE)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stdout[-2000:]}{completed.stderr[-2000:]}")
    return completed.stdout


def wait_for(condition, what: str):
    deadline = time.monotonic() + PATIENCE
    while not (result := condition()):
        assert time.monotonic() < deadline, f"still not {what} after {PATIENCE} s"
        time.sleep(0.05)
    return result


@dataclass
class Cluster:
    """One PostgreSQL server in a folder of its own, listening on 127.0.0.1:port (and a socket in its folder)."""

    bin: Path
    folder: Path
    port: int

    @property
    def log(self) -> Path:
        return self.folder.parent / f"{self.folder.name}.log"

    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> None:
        run([str(self.bin / "pg_ctl"), "-D", str(self.folder), "-l", str(self.log), "-w", "-t", str(PATIENCE),
             "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1", "start"])

    def stop(self) -> None:
        """Fast shutdown (its clients cut off), if it runs."""
        if (self.folder / "postmaster.pid").exists():
            run([str(self.bin / "pg_ctl"), "-D", str(self.folder), "-m", "fast", "-w", "-t", str(PATIENCE), "stop"])

    def query(self, sql: str, parameters=(), dbname: str = DATABASE) -> list[tuple]:
        client = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, connect_timeout=5)
        try:
            client.autocommit = True
            with client.cursor() as cursor:
                cursor.execute(sql, parameters)
                return cursor.fetchall() if cursor.description else []
        finally:
            client.close()


@contextlib.contextmanager
def postgres_folder() -> Iterator[Path]:
    """A temporary folder the servers' user owns, removed at the end."""
    folder = Path(tempfile.mkdtemp(prefix="timeslot-replica-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A Redis of the test's own on a free loopback port, keeping nothing on disk: its URL."""
    port = served.free_port()
    with open(folder / "redis.log", "wb") as output:
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(folder)], stdin=subprocess.DEVNULL, stdout=output, stderr=output,
        )
    try:
        wait_for(lambda: served.listening(port) or process.poll() is not None, "listening")
        assert process.poll() is None, (folder / "redis.log").read_text()[-2000:]
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Deployment:
    primary: Cluster
    replica: Cluster
    server: served.Served
    tokens: dict[str, str]
    user_ids: dict[str, int]

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
        """Waits until the replica has replayed everything the primary has written so far."""
        (position,) = self.primary.query("SELECT pg_current_wal_lsn()::text")[0]
        wait_for(lambda: self.replica.query("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [position])[0][0],
                 "replayed")

    @contextlib.contextmanager
    def replay_paused(self) -> Iterator[None]:
        """The replica replays nothing of the primary's writes until the block ends."""
        self.replica.query("SELECT pg_wal_replay_pause()")
        wait_for(lambda: self.replica.query("SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused", "paused")
        try:
            yield
        finally:
            self.replica.query("SELECT pg_wal_replay_resume()")

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
    bin = postgresql_bin()
    with contextlib.ExitStack() as running:
        folder = running.enter_context(postgres_folder())
        primary = Cluster(bin, folder / "primary", served.free_port())
        run([str(bin / "initdb"), "-D", str(primary.folder), "-U", "postgres", "--auth=trust", "-E", "UTF8",
             "--locale=C", "--no-sync"])
        with open(primary.folder / "postgresql.conf", "a") as conf:
            # A throwaway cluster: nothing of it need survive a crash.
            conf.write("fsync = off\nfull_page_writes = off\n")
        running.callback(primary.stop)
        primary.start()
        primary.query(f"CREATE DATABASE {DATABASE}", dbname="postgres")

        replica = Cluster(bin, folder / "replica", served.free_port())
        # -R: standby.signal and primary_conninfo, so that it starts as a streaming replica of the primary.
        run([str(bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
             "-D", str(replica.folder), "-R", "-X", "stream", "-c", "fast"])
        with open(replica.folder / "postgresql.conf", "a") as conf:
            # As README advises: a long export's snapshot is not cancelled by the replay of a vacuum.
            conf.write("hot_standby_feedback = on\n")
        running.callback(replica.stop)
        replica.start()

        redis_url = running.enter_context(redis_server(folder))
        env = {
            **os.environ, **served.production_environment(primary.url()), "DATABASE_REPLICA_URL": replica.url(),
            "REDIS_URL": redis_url, "LOG_LEVEL": "INFO",
            # The replica back, the next read tries it.
            "REPLICA_RETRY_SECONDS": "0",
        }
        # With the replica configured: a migration sent to it would fail, read-only.
        served.run_checked([str(served.BIN / "python"), "manage.py", "migrate", "--noinput"], env)
        made = served.run_checked(
            [str(served.BIN / "python"), "manage.py", "shell", "-c", f"NAMES = {USERS!r}\n{MAKE_USERS}"], env
        )
        accounts = json.loads(made.strip().splitlines()[-1])
        server = running.enter_context(served.gunicorn(env, ["--workers", "2"], log_folder=logs))
        deployment = Deployment(
            primary=primary, replica=replica, server=server,
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
