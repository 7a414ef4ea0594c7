"""A PostgreSQL primary and a streaming replica of it, each a server of its own in a temporary folder on a free
loopback port, and a Redis of their own: for what tests or times the service on a read replica
(timeslot/tests/test_replica.py, bench/replica_lag.py)."""
import contextlib
import functools
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from bench import served

# Bounded waits for what the servers do.
PATIENCE = 60
DATABASE = "timeslot"


def postgresql_bin() -> Path:
    """The newest installed PostgreSQL's programs (Debian's /usr/lib/postgresql/<version>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    if not found:
        raise RuntimeError("PostgreSQL's server programs are missing: apt-get install -y postgresql.")
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


wait_for = functools.partial(served.wait_for, seconds=PATIENCE)


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

    def connect(self, dbname: str = DATABASE):
        client = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, connect_timeout=5)
        client.autocommit = True
        return client

    def query(self, sql: str, parameters=(), dbname: str = DATABASE) -> list[tuple]:
        client = self.connect(dbname)
        try:
            with client.cursor() as cursor:
                cursor.execute(sql, parameters)
                return cursor.fetchall() if cursor.description else []
        finally:
            client.close()


@dataclass
class Pair:
    primary: Cluster
    replica: Cluster

    def position(self) -> str:
        """The end of the primary's WAL: past every transaction committed on it so far."""
        return self.primary.query("SELECT pg_current_wal_lsn()::text")[0][0]

    def caught_up(self) -> None:
        """Waits until the replica has replayed everything the primary has written so far."""
        position = self.position()
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
def streaming_pair(folder: Path, *, durable: bool = False) -> Iterator[Pair]:
    """A primary (initdb) with the database DATABASE, and a streaming replica of it (pg_basebackup -R), both
    running until the block ends, and stopped then whatever happened. Not durable: no fsync (a test's data need
    not survive a crash)."""
    bin = postgresql_bin()
    with contextlib.ExitStack() as running:
        primary = Cluster(bin, folder / "primary", served.free_port())
        run([str(bin / "initdb"), "-D", str(primary.folder), "-U", "postgres", "--auth=trust", "-E", "UTF8",
             "--locale=C", *([] if durable else ["--no-sync"])])
        if not durable:
            with open(primary.folder / "postgresql.conf", "a") as conf:
                conf.write("fsync = off\nfull_page_writes = off\n")
        running.callback(primary.stop)
        primary.start()
        primary.query(f"CREATE DATABASE {DATABASE}", dbname="postgres")

        replica = Cluster(bin, folder / "replica", served.free_port())
        # -R: standby.signal and primary_conninfo, so that it starts as a streaming replica of the primary.
        run([str(bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
             "-D", str(replica.folder), "-R", "-X", "stream", "-c", "fast"])
        with open(replica.folder / "postgresql.conf", "a") as conf:
            # As the README advises: a long export's snapshot is not cancelled by the replay of a vacuum.
            conf.write("hot_standby_feedback = on\n")
        running.callback(replica.stop)
        replica.start()
        pair = Pair(primary, replica)
        pair.caught_up()
        yield pair


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A Redis of its own on a free loopback port, keeping nothing on disk: its URL."""
    port = served.free_port()
    with open(folder / "redis.log", "wb") as output:
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(folder)], stdin=subprocess.DEVNULL, stdout=output, stderr=output,
        )
    try:
        served.wait_listening(process, [port], "redis-server", log=folder / "redis.log", seconds=PATIENCE)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        served.stopped(process, signal.SIGTERM)


def service_environment(pair: Pair, redis_url: str, **settings: str) -> dict[str, str]:
    """The service's production settings on the primary, its replica and the Redis, once migrated."""
    env = {
        **os.environ, **served.production_environment(pair.primary.url()), "DATABASE_REPLICA_URL": pair.replica.url(),
        "REDIS_URL": redis_url, "LOG_LEVEL": "INFO", **settings,
    }
    # With the replica configured: a migration sent to it would fail, read-only.
    served.run_checked([str(served.BIN / "python"), "manage.py", "migrate", "--noinput"], env)
    return env
