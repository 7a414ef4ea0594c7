"""Faults: the database gone before the first byte or mid-stream, a client gone mid-stream,
and a user editing slots while their export streams; on PostgreSQL, through real HTTP servers.

The database is made unreachable with a forwarder the application's connections go through
(export/tests/forwarder.py), never by stopping the shared PostgreSQL server.
"""
import functools
import json
import logging
import os
import random
import socket
import threading
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import close_old_connections, connection, connections, transaction
from django.test import Client, override_settings
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from bench import served
from export.tests.forwarder import DatabasePlug
from export.tests.ical_reader import parse_events
from export.tests.importing import calendar
from export.tests.test_api import streams_from_its_first_chunk
from slots.models import Slot
from slots.tests.factories import SlotFactory, TokenFactory, UserFactory
from timeslot.exceptions import DATABASE_RETRY_AFTER

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: a database server to cut off and sessions to see in pg_stat_activity",
    ),
]

GOOGLE = "/v1/export/google"
# Bounded waits for what another process or thread does; never an assertion on how long it took.
PATIENCE = 10.0
# The application_name of the servers' connections, to tell their sessions from any other.
LIVE_SERVER = "timeslot-live-server"
GUNICORN = "timeslot-gunicorn"
# The export's server-side cursor reads its rows with one of these a chunk (EXPORT_CHUNK_SIZE rows).
FETCH = b"FETCH FORWARD"


# HTTP over a real socket ------------------------------------------------------------------------------


def address_of(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port


def send(address, method: str, path: str, headers: dict | None = None, body: bytes = b"") -> socket.socket:
    """An HTTP/1.0 request on a fresh socket (the answer then ends when the server closes it)."""
    sock = socket.socket()
    sock.settimeout(30)
    sock.connect(address)
    lines = [f"{method} {path} HTTP/1.0", f"Host: {address[0]}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    sock.sendall("\r\n".join(lines).encode() + b"\r\n\r\n" + body)
    return sock


def read_to_end(sock: socket.socket, received: bytes = b"") -> bytes:
    """Everything until the server closes the connection (a reset after a cut counts as the end)."""
    try:
        while data := sock.recv(65536):
            received += data
    except ConnectionResetError:
        pass
    sock.close()
    return received


class Answer:
    def __init__(self, raw: bytes):
        head, _, self.body = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1])
        fields = (line.partition(":") for line in header_lines)
        self.headers = {name.lower(): value.strip() for name, _, value in fields}
        self.head = head

    def json(self):
        return json.loads(self.body)


def fetch(address, method: str, path: str, headers: dict | None = None, body: bytes = b"") -> Answer:
    return Answer(read_to_end(send(address, method, path, headers, body)))


def token_header(user) -> dict:
    token, _ = Token.objects.get_or_create(user=user)
    return {"Authorization": f"Token token={token.key}"}


def slots_for(user, count: int, description: str = "") -> list[Slot]:
    start = timezone.now().replace(microsecond=0)
    return Slot.objects.bulk_create(
        Slot(creator=user, title=f"Slot {n}", description=description, start=start + timedelta(hours=n),
             end=start + timedelta(hours=n, minutes=30))
        for n in range(count)
    )


def sessions_of(application: str) -> list[tuple[int, str, str]]:
    """(pid, state, query) of the application's sessions (by application_name), seen from this test's connection."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = %s",
            [application],
        )
        return cursor.fetchall()


# condition()'s first true answer, polled for at most PATIENCE seconds.
wait_for = functools.partial(served.wait_for, seconds=PATIENCE)


def read_while_waiting(sock: socket.socket, event: threading.Event, received: bytes = b"") -> bytes:
    """Reads what the server sends until event is set: the server never waits on this client meanwhile."""
    sock.settimeout(0.05)
    deadline = time.monotonic() + PATIENCE
    while not event.is_set():
        assert time.monotonic() < deadline, f"the event did not come within {PATIENCE} s"
        try:
            received += sock.recv(65536)
        except TimeoutError:
            pass
    sock.settimeout(30)
    return received


def reading_slots(sessions) -> list:
    """The sessions inside the export's transaction, reading slots with its server-side cursor."""
    return [
        (pid, state, query) for pid, state, query in sessions
        if state in ("active", "idle in transaction") and ("slots_slot" in query or query.startswith("FETCH"))
    ]


# The database plug ------------------------------------------------------------------------------------


@pytest.fixture
def database_plug(live_server, monkeypatch):
    """The live server's connections to the database go through a plug the test can pull.

    The test's own connection is opened first and stays direct: it sets up data and looks at
    pg_stat_activity whatever the plug does. The live server opens a connection per request.
    """
    connection.ensure_connection()
    settings_dict = connection.settings_dict
    plug = DatabasePlug(settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432))
    plug.plug()
    # One dict for every thread's connection: the live server's next connection uses this port and name.
    monkeypatch.setitem(settings_dict, "PORT", str(plug.port))
    monkeypatch.setitem(settings_dict, "OPTIONS", {**settings_dict["OPTIONS"], "application_name": LIVE_SERVER})
    yield plug
    plug.release()
    plug.pull()


def leaked(answer: Answer, plug: DatabasePlug) -> list[str]:
    """What of the database's whereabouts or the server's insides the answer gives away."""
    text = (answer.head + b"\r\n\r\n" + answer.body).decode("latin-1")
    secrets = [str(plug.port), "5432", connection.settings_dict["NAME"], "postgres", "psycopg",
               "Traceback", "OperationalError", "127.0.0.1", "connection to server"]
    return [secret for secret in secrets if secret.lower() in text.lower()]


# The database down before the first byte -------------------------------------------------------------


def feed_secret_path(address, user) -> str:
    answer = fetch(address, "POST", "/v1/feeds", {**token_header(user), "Content-Type": "application/json"})
    assert answer.status == 201
    return urlsplit(answer.json()["url"]).path


def import_body() -> bytes:
    event = "UID:faults-1@example.com\nSUMMARY:Imported\nDTSTART:20261207T090000Z\nDTEND:20261207T100000Z"
    return encode_multipart(BOUNDARY, {"file": SimpleUploadedFile("calendar.ics", calendar(event).encode())})


# Each endpoint's request: method, path (or how to get it), headers besides the token, body, its success.
ENDPOINTS = {
    "export google": ("POST", GOOGLE, {"Content-Type": "application/json"}, b"", 200),
    "export outlook": ("POST", "/v1/export/outlook", {"Content-Type": "application/json"}, b"", 200),
    "export timeslot": ("POST", "/v1/export/timeslot", {"Content-Type": "application/json"}, b"", 200),
    "import": ("POST", "/v1/import", {"Content-Type": MULTIPART_CONTENT}, "import", 200),
    "feeds list": ("GET", "/v1/feeds", {}, b"", 200),
    "feed creation": ("POST", "/v1/feeds", {"Content-Type": "application/json"}, b"", 201),
    "feed calendar": ("GET", "feed", {}, b"", 200),
}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_database_down_before_the_first_byte_is_503_with_retry_after_and_the_next_request_succeeds(
    database_plug, live_server, user, endpoint, caplog
):
    method, path, headers, body, success = ENDPOINTS[endpoint]
    slots_for(user, 3)
    address = address_of(live_server.url)
    if path == "feed":
        path = feed_secret_path(address, user)
    else:
        headers = {**token_header(user), **headers}
    body = import_body() if body == "import" else body

    database_plug.pull()
    with caplog.at_level(logging.ERROR):
        down = fetch(address, method, path, headers, body)

    assert down.status == 503
    assert down.headers["retry-after"] == str(DATABASE_RETRY_AFTER)
    assert down.headers["content-type"] == "application/json"
    assert down.json() == {"detail": "The service cannot reach its database. Try again shortly.",
                           "request_id": down.headers["x-request-id"]}
    assert leaked(down, database_plug) == []
    messages = [record.getMessage() for record in caplog.records]
    assert sum("Database unavailable" in message for message in messages) == 1
    # Answered by the API's handler, not by Django's last resort for an error nothing caught.
    assert not any(message.startswith("Internal Server Error") for message in messages)

    database_plug.plug()
    assert fetch(address, method, path, headers, body).status == success


def test_the_admin_answers_503_in_json_when_the_database_is_down_then_works_again(database_plug, live_server):
    operator = UserFactory(username="operator", is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(operator)
    cookie = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"}
    address = address_of(live_server.url)

    database_plug.pull()
    down = fetch(address, "GET", "/admin/slots/slot/", cookie)

    assert down.status == 503
    assert down.headers["retry-after"] == str(DATABASE_RETRY_AFTER)
    assert down.json() == {"detail": "The service cannot reach its database. Try again shortly.",
                           "request_id": down.headers["x-request-id"]}
    assert leaked(down, database_plug) == []

    database_plug.plug()
    assert fetch(address, "GET", "/admin/slots/slot/", cookie).status == 200


# The database gone mid-stream --------------------------------------------------------------------------


@override_settings(EXPORT_CHUNK_SIZE=10)
@streams_from_its_first_chunk
def test_a_database_cut_mid_stream_truncates_the_body_is_logged_and_the_next_request_succeeds(
    database_plug, live_server, user, caplog
):
    slots_for(user, 1000, description="long text " * 50)
    address = address_of(live_server.url)
    headers = {**token_header(user), "Content-Type": "application/json"}
    # Past the first 64 KB chunk: the status and the first events are on their way.
    database_plug.hold(FETCH, occurrence=20)

    with caplog.at_level(logging.ERROR, logger="export.views"):
        stream = send(address, "POST", GOOGLE, headers)
        received = read_while_waiting(stream, database_plug.held)
        database_plug.pull()
        database_plug.release()
        cut = Answer(read_to_end(stream, received))
        wait_for(lambda: any("incomplete file" in r.getMessage() for r in caplog.records), "logged")

    assert cut.status == 200 and cut.body.startswith(b"BEGIN:VCALENDAR") and b"BEGIN:VEVENT" in cut.body
    assert b"END:VCALENDAR" not in cut.body
    database_plug.plug()
    whole = fetch(address, "POST", GOOGLE, headers)
    assert whole.status == 200 and whole.body.endswith(b"END:VCALENDAR\r\n")
    assert len(parse_events(whole.body)) == 1000


@override_settings(EXPORT_CHUNK_SIZE=10)
@streams_from_its_first_chunk
def test_a_backend_killed_mid_stream_truncates_the_body_and_the_next_request_succeeds(user, caplog):
    token = TokenFactory(user=user)
    SlotFactory.create_batch(300, creator=user, description="long text " * 50)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    response = client.post(GOOGLE, b"", content_type="application/json")
    stream = iter(response.streaming_content)
    received = [next(stream)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    killer = connections.create_connection("default")
    try:
        with killer.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
    finally:
        killer.close()
    with pytest.raises(Exception), caplog.at_level(logging.ERROR, logger="export.views"):
        for chunk in stream:
            received.append(chunk)
    # What a server does when a request ends (the test client leaves it out): a connection that
    # failed is closed, and the next request opens a new one.
    close_old_connections()

    body = b"".join(received)
    assert body.startswith(b"BEGIN:VCALENDAR") and b"END:VCALENDAR" not in body
    assert any("incomplete file" in record.getMessage() for record in caplog.records)
    again = client.post(GOOGLE, b"", content_type="application/json")
    assert again.status_code == 200
    assert len(parse_events(b"".join(again.streaming_content))) == 300


# A client gone mid-stream ------------------------------------------------------------------------------


@pytest.fixture
def gunicorn(tmp_path):
    """gunicorn serving the app on the test database through a plug: one sync worker keeping its connection
    between requests (CONN_MAX_AGE), so that a transaction it failed to end would stay `idle in transaction`."""
    db = connection.settings_dict
    plug = DatabasePlug(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
    plug.plug()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@127.0.0.1:{plug.port}/{db['NAME']}",
        "CONN_MAX_AGE": "600",
        "EXPORT_CHUNK_SIZE": "10",
        # As streams_from_its_first_chunk: the calendar streams from its first chunk.
        "EXPORT_PART_MAX_BYTES": "1",
        # libpq's own variable: the sessions of this server are told apart by it.
        "PGAPPNAME": GUNICORN,
    }
    try:
        with served.gunicorn(env, ["--workers", "1", "--worker-class", "sync"], log_folder=tmp_path) as server:
            try:
                yield ("127.0.0.1", server.port), plug
            finally:
                plug.release()
    finally:
        plug.pull()


def test_a_client_that_hangs_up_mid_stream_leaves_no_session_idle_in_transaction(gunicorn, user):
    address, plug = gunicorn
    slots_for(user, 1000, description="long text " * 50)
    headers = {**token_header(user), "Content-Type": "application/json"}
    plug.hold(FETCH, occurrence=20)
    stream = send(address, "POST", GOOGLE, headers)
    received = read_while_waiting(stream, plug.held)
    assert b"BEGIN:VEVENT" in received
    # The export is in its transaction, its cursor open, waiting on the database.
    assert reading_slots(sessions_of(GUNICORN))

    stream.close()
    plug.release()

    # Out of the transaction, the cursor gone; the worker keeps its one connection, idle, for the next request.
    sessions = wait_for(
        lambda: (sessions := sessions_of(GUNICORN)) and {state for _, state, _ in sessions} == {"idle"} and sessions,
        "idle",
    )
    assert len(sessions) == 1 and not reading_slots(sessions)
    again = fetch(address, "POST", GOOGLE, headers)
    assert again.status == 200 and len(parse_events(again.body)) == 1000


# Edits while an export streams ------------------------------------------------------------------------


@override_settings(EXPORT_CHUNK_SIZE=50)
@streams_from_its_first_chunk
def test_edits_while_an_export_streams_neither_duplicate_nor_lose_a_slot_nor_deadlock(
    database_plug, live_server, user
):
    """The export reads its rows with one statement (one server-side cursor, fetched in chunks, in one
    transaction). Under READ COMMITTED one statement sees one snapshot, taken when it starts: edits
    committed while it streams, even ones that move a slot from the unread part before the read part,
    are invisible to it. So each slot that existed when the export began comes exactly once, and the
    export takes no lock an edit waits for (row edits need ROW EXCLUSIVE, a read holds ACCESS SHARE)."""
    before = slots_for(user, 3000, description="long text " * 20)
    rng = random.Random(6)
    deleted, inserted, edited = set(), set(), threading.Event()
    stop, failures = threading.Event(), []

    def edit_while_streaming():
        """The same user's edits, each in its own transaction on its own connection (not through the plug)."""
        try:
            alive = [slot.pk for slot in before]
            rounds = 0
            while not stop.is_set():
                with transaction.atomic():
                    first = Slot.objects.order_by("start").first().start
                    last = Slot.objects.order_by("-start").first().start
                    # A slot from the unread end moves before everything read so far, and one the other way.
                    Slot.objects.filter(pk=alive[-1 - rounds % 100]).update(
                        start=first - timedelta(hours=1), end=first - timedelta(minutes=30))
                    Slot.objects.filter(pk=alive[rounds % 100]).update(
                        start=last + timedelta(hours=1), end=last + timedelta(hours=2))
                    victim = alive.pop(rng.randrange(200, len(alive) - 200))
                    Slot.objects.filter(pk=victim).delete()
                    new = Slot.objects.create(creator=user, title="New", start=first - timedelta(days=1))
                deleted.add(victim)
                inserted.add(new.pk)
                rounds += 1
                if rounds == 10:
                    edited.set()
        except Exception as error:  # reported by the test, not lost in the thread
            failures.append(error)
            edited.set()
        finally:
            connections.close_all()

    # Well into the stream: 10 chunks of 50 rows read, the rest still to come.
    database_plug.hold(FETCH, occurrence=10)
    stream = send(address_of(live_server.url), "POST", GOOGLE,
                  {**token_header(user), "Content-Type": "application/json"})
    received = read_while_waiting(stream, database_plug.held)
    editor = threading.Thread(target=edit_while_streaming)
    editor.start()
    assert edited.wait(PATIENCE), "the edits did not commit"
    # Those edits committed while the export was inside its read.
    assert reading_slots(sessions_of(LIVE_SERVER))
    database_plug.release()
    # The edits go on while the rest streams.
    answer = Answer(read_to_end(stream, received))
    stop.set()
    editor.join(PATIENCE)

    assert not editor.is_alive() and failures == []
    assert answer.status == 200 and answer.body.endswith(b"END:VCALENDAR\r\n")
    uids = [str(event["UID"]) for event in parse_events(answer.body)]
    assert len(uids) == len(set(uids))
    # Exactly the slots as they were when the export began: the deleted ones still in, the new ones not yet.
    assert set(uids) == {str(slot.uuid) for slot in before}
    assert deleted and inserted
