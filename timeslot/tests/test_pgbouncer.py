"""The service behind Debian's PgBouncer in transaction mode (pool_mode = transaction), with
DATABASE_TRANSACTION_POOLING=1 (timeslot/pooled_postgresql/base.py): real gunicorn over real HTTP, and the
backend's own connections, through a PgBouncer started here on a free loopback port in front of the test
database. PgBouncer lends a server connection for one transaction at a time and refuses the `options`
startup parameter a direct connection sets its timeouts with.
"""
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
from django.db import connection, transaction
from django.db.utils import load_backend
from django.test import override_settings
from django.test.client import MULTIPART_CONTENT

from bench import served
from export.tests.ical_reader import parse_events
from export.tests.test_faults import (
    GOOGLE,
    address_of,
    feed_secret_path,
    fetch,
    import_body,
    slots_for,
    token_header,
)
from slots.models import Slot

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: PgBouncer pools its connections"),
]

PGBOUNCER = Path("/usr/sbin/pgbouncer")
POOLED = "timeslot.pooled_postgresql"
# Bounded waits for what PgBouncer and gunicorn do; never an assertion on how long it took.
PATIENCE = 30
# Enough slots for several of the export's chunks.
SLOTS, CHUNK = 2_500, 500


@dataclass
class Bouncer:
    port: int
    log: Path

    def url(self) -> str:
        db = connection.settings_dict
        return f"postgres://{db['USER']}@127.0.0.1:{self.port}/{db['NAME']}"

    def connect(self):
        """A client of the pool of its own, in autocommit as Django's connections are."""
        client = psycopg2.connect(host="127.0.0.1", port=self.port, user=connection.settings_dict["USER"],
                                  dbname=connection.settings_dict["NAME"])
        client.autocommit = True
        return client


@pytest.fixture(scope="module")
def pgbouncer(django_db_setup, tmp_path_factory):
    """PgBouncer in transaction mode in front of the test database, trusting its user as the local PostgreSQL
    does, until the module's tests are over."""
    if not PGBOUNCER.exists():
        pytest.fail(f"{PGBOUNCER} is missing: apt-get install -y pgbouncer (make test installs it).")
    folder = tmp_path_factory.mktemp("pgbouncer")
    db = connection.settings_dict
    port = served.free_port()
    (folder / "userlist.txt").write_text(f'"{db["USER"]}" ""\n')
    (folder / "pgbouncer.ini").write_text("\n".join([
        "[databases]",
        f"{db['NAME']} = host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} dbname={db['NAME']}",
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        f"listen_port = {port}",
        # No Unix socket in /tmp, where another PgBouncer may have one for this port.
        "unix_socket_dir =",
        "auth_type = trust",
        f"auth_file = {folder / 'userlist.txt'}",
        "pool_mode = transaction",
        # Room for a second server connection while a client holds the first (test_cursors_...).
        "default_pool_size = 4",
        # Its log on standard error (the file below), no pid file: it runs in the foreground.
        "logfile =",
        "pidfile =",
        # PgBouncer refuses to run as root; it reads this file and the user list before it changes user.
        *(["user = postgres"] if os.geteuid() == 0 else []),
        "",
    ]))
    log = folder / "pgbouncer.log"
    with open(log, "wb") as output:
        process = subprocess.Popen([str(PGBOUNCER), str(folder / "pgbouncer.ini")], stdin=subprocess.DEVNULL,
                                   stdout=output, stderr=output)
    try:
        served.wait_listening(process, [port], "pgbouncer", log=log, seconds=PATIENCE)
        yield Bouncer(port=port, log=log)
    finally:
        # SIGINT: PgBouncer's safe shutdown, once its clients' transactions are over.
        served.stopped(process, signal.SIGINT)


def gunicorn_through(bouncer: Bouncer, tmp_path: Path, **environment: str):
    """gunicorn with the production settings, its database reached through PgBouncer."""
    env = {**os.environ, **served.production_environment(bouncer.url()), "DATABASE_TRANSACTION_POOLING": "1",
           "EXPORT_CHUNK_SIZE": str(CHUNK), **environment}
    return served.gunicorn(env, ["--workers", "1"], log_folder=tmp_path)


def export_headers(user) -> dict:
    return {**token_header(user), "Content-Type": "application/json"}


# Over HTTP, through gunicorn ---------------------------------------------------------------------------------


def test_an_export_streams_through_pgbouncer_in_transaction_mode(pgbouncer, tmp_path, user):
    slots_for(user, SLOTS)

    with gunicorn_through(pgbouncer, tmp_path) as server:
        answer = fetch(address_of(server.url), "POST", GOOGLE, export_headers(user))

    assert answer.status == 200, answer.body[:500]
    assert answer.headers["content-type"] == "text/calendar; charset=utf-8"
    # Streamed: no length known before the last row was read.
    assert "content-length" not in answer.headers
    assert len(parse_events(answer.body)) == SLOTS


def test_a_feed_is_made_and_fetched_through_pgbouncer(pgbouncer, tmp_path, user):
    slots_for(user, 3)

    with gunicorn_through(pgbouncer, tmp_path) as server:
        address = address_of(server.url)
        answer = fetch(address, "GET", feed_secret_path(address, user))

    assert answer.status == 200, answer.body[:500]
    assert len(parse_events(answer.body)) == 3


def test_an_import_writes_through_pgbouncer(pgbouncer, tmp_path, user):
    with gunicorn_through(pgbouncer, tmp_path) as server:
        answer = fetch(address_of(server.url), "POST", "/v1/import",
                       {**token_header(user), "Content-Type": MULTIPART_CONTENT},
                       import_body())

    assert answer.status == 200, answer.body[:500]
    assert answer.json()["created"] == 1
    assert list(Slot.objects.filter(creator=user).values_list("title", flat=True)) == ["Imported"]


def test_a_statement_past_its_timeout_through_pgbouncer_is_a_json_503_and_writes_nothing(pgbouncer, tmp_path, user):
    """The import's insert waits for a lock this test holds until the transaction's own statement_timeout,
    set as it began (PgBouncer refuses it as a startup option), cancels it."""
    headers = {**token_header(user), "Content-Type": MULTIPART_CONTENT}

    with gunicorn_through(pgbouncer, tmp_path, STATEMENT_TIMEOUT_MS="300") as server:
        address = address_of(server.url)
        # SHARE: reads of the slots go on, their writers wait.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("LOCK TABLE slots_slot IN SHARE MODE")
            cut = fetch(address, "POST", "/v1/import", headers, import_body())
        again = fetch(address, "POST", "/v1/import", headers, import_body())

    assert cut.status == 503, cut.body[:500]
    assert cut.headers["content-type"] == "application/json"
    assert cut.json() == {
        "detail": "The service cannot reach its database. Try again shortly.",
        "request_id": cut.headers["x-request-id"],
    }
    assert "canceling statement due to statement timeout" in server.log.read_text()
    assert again.status == 200 and again.json()["created"] == 1
    assert Slot.objects.filter(creator=user).count() == 1


@pytest.mark.parametrize("debug", ["0", "1"])
@pytest.mark.parametrize("endpoint", ["export", "import"])
def test_without_transaction_pooling_every_connection_through_pgbouncer_is_refused_in_json(
    pgbouncer, tmp_path, user, endpoint, debug
):
    """What DATABASE_TRANSACTION_POOLING is for: the timeouts as a startup option, which PgBouncer refuses. The
    database is then unreachable, and every answer says so in JSON, in development (DEBUG=1) too: the import's
    log of the answer must not look its user up once more, outside the API's error handler."""
    path, headers, body = (GOOGLE, export_headers(user), b"") if endpoint == "export" else (
        "/v1/import", {**token_header(user), "Content-Type": MULTIPART_CONTENT}, import_body())

    with gunicorn_through(pgbouncer, tmp_path, DATABASE_TRANSACTION_POOLING="0", DEBUG=debug) as server:
        answer = fetch(address_of(server.url), "POST", path, headers, body)

    assert answer.status == 503
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "detail": "The service cannot reach its database. Try again shortly.",
        "request_id": answer.headers["x-request-id"],
    }
    log = server.log.read_text()
    assert "unsupported startup parameter: options" in log
    # Answered by the API's handler, not by Django's last resort for an error nothing caught.
    assert "Internal Server Error" not in log


# The backend's own connections ------------------------------------------------------------------------------


def through(bouncer: Bouncer, engine: str):
    """A connection of this backend to the test database through PgBouncer, as the settings make it."""
    settings_dict = {**connection.settings_dict, "PORT": str(bouncer.port), "OPTIONS": {}}
    return load_backend(engine).DatabaseWrapper(settings_dict, alias="through-pgbouncer")


def read_in_chunks(wrapper, rows: int, meanwhile) -> list[int]:
    """rows numbers read as QuerySet.iterator() reads them (chunked_cursor, then fetchmany), meanwhile()
    called after the first chunk."""
    with wrapper.chunked_cursor() as cursor:
        cursor.execute("SELECT n FROM generate_series(1, %s) AS n", [rows])
        numbers = [n for (n,) in cursor.fetchmany(CHUNK)]
        meanwhile()
        while chunk := cursor.fetchmany(CHUNK):
            numbers += [n for (n,) in chunk]
    return numbers


@pytest.mark.parametrize("engine, lost", [("django.db.backends.postgresql", True), (POOLED, False)])
def test_a_chunked_read_outside_a_transaction_survives_another_client_taking_its_server_connection(
    pgbouncer, engine, lost
):
    """Django's own backend reads with a WITH HOLD cursor outside a transaction: once another client's
    transaction holds the server connection it was declared on, PgBouncer sends the next FETCH to another one,
    which has no such cursor. The pooled backend reads such a result whole, in one statement."""
    other = pgbouncer.connect()
    wrapper = through(pgbouncer, engine)
    try:
        def take_the_server_connection():
            other.autocommit = False
            other.cursor().execute("SELECT 1")

        if lost:
            with pytest.raises(Exception, match="does not exist"):
                read_in_chunks(wrapper, 3 * CHUNK, take_the_server_connection)
        else:
            assert read_in_chunks(wrapper, 3 * CHUNK, take_the_server_connection) == list(range(1, 3 * CHUNK + 1))
    finally:
        wrapper.close()
        other.close()


@override_settings(STATEMENT_TIMEOUT_MS=1234, IDLE_IN_TRANSACTION_TIMEOUT_MS=5678)
def test_a_transaction_through_pgbouncer_has_the_timeouts_and_reads_with_a_server_side_cursor(pgbouncer):
    other = pgbouncer.connect()
    wrapper = through(pgbouncer, POOLED)
    try:
        wrapper.set_autocommit(False)
        with wrapper.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            (statement,) = cursor.fetchone()
            cursor.execute("SHOW idle_in_transaction_session_timeout")
            (idle,) = cursor.fetchone()

        cursors = []

        def hold_another_transaction():
            other.autocommit = False
            other.cursor().execute("SELECT 1")
            with wrapper.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_cursors WHERE NOT is_holdable")
                cursors.append(cursor.fetchone()[0])

        numbers = read_in_chunks(wrapper, 3 * CHUNK, hold_another_transaction)
        wrapper.rollback()
    finally:
        wrapper.close()
        other.close()

    assert (statement, idle) == ("1234ms", "5678ms")
    # The rows came through a server-side cursor of this transaction's, chunk by chunk.
    assert cursors == [1]
    assert numbers == list(range(1, 3 * CHUNK + 1))
