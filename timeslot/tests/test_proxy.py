"""deploy/nginx.conf as shipped, run by Debian's nginx in front of real gunicorn, over real TLS.

The site file is the shipped one with only its ports and paths replaced (nginx.py), its upstream a tap
(upstream_tap.py) that relays to gunicorn what nginx sends it, for the tests to read. gunicorn runs the
production settings behind a proxy (DEBUG=0, SECURE_PROXY_SSL_HEADER=1, NUM_PROXIES=1) with one worker
of 4 threads, as test_slow_clients.py does, on an SQLite file of its own.
"""
import functools
import gzip
import http.client
import json
import os
import re
import runpy
import socket
import sqlite3
import ssl
import threading
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from django.conf import settings

from bench import served
from export.api.import_views import MULTIPART_ALLOWANCE
from timeslot.tests import nginx
from timeslot.tests.nginx import HTTPS, PATIENCE, SERVER_NAME, Answer, ask, shipped
from timeslot.tests.upstream_tap import UpstreamTap

THREADS = runpy.run_path(str(served.CONFIG))["threads"]
# The slots of the user whose export is read slowly: a calendar of about 25 MB, far more than the sockets
# and nginx's buffers between gunicorn and the client hold.
STREAMED_SLOTS = 10_000
DESCRIPTION = "A long description, folded over many lines of the calendar. " * 35
OPERATOR_PASSWORD = "a password of the test's own"
# Clients of their own loopback addresses (127.0.0.0/8 is all loopback on Linux); gunicorn sees nginx's alone.
ATTACKER, NEIGHBOUR, FORWARDING = "127.0.0.2", "127.0.0.3", "127.0.0.4"
UNKNOWN_KEY = "pjZdBUp2D8r4nmWh2LIsIbYe2lo"


def size(value: str) -> int:
    """nginx's size syntax: 6m, 512k, 1024."""
    units = {"k": 1024, "m": 1024 * 1024}
    return int(value[:-1]) * units[value[-1].lower()] if value[-1].lower() in units else int(value)


def seconds(value: str) -> int:
    assert value.endswith("s"), value
    return int(value[:-1])


# The service, and nginx in front of it ---------------------------------------------------------------------


@dataclass
class Service:
    port: int
    database: Path
    tokens: dict[str, str]


# Run by `manage.py shell` on gunicorn's database: the users, their tokens and slots, an operator.
SEED = f"""
import json
from datetime import datetime, timedelta, timezone
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from slots.models import Slot

def user_with_slots(username, count):
    user = get_user_model().objects.create(username=username)
    start = datetime(2026, 1, 5, 9, tzinfo=timezone.utc)
    Slot.objects.bulk_create(
        (Slot(creator=user, title=f"Slot {{number}}", description={DESCRIPTION!r},
              start=start + timedelta(hours=number), end=start + timedelta(hours=number, minutes=30))
         for number in range(count)),
        batch_size=2000,
    )
    return Token.objects.create(user=user).key

tokens = {{"nora": user_with_slots("nora", {STREAMED_SLOTS}), "owen": user_with_slots("owen", 3)}}
get_user_model().objects.create_superuser("operator", password={OPERATOR_PASSWORD!r})
print(json.dumps(tokens))
"""


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    folder = tmp_path_factory.mktemp("service")
    database = folder / "service.sqlite3"
    environment = {
        **os.environ,
        **served.production_environment(f"sqlite:///{database}"),
        "ALLOWED_HOSTS": SERVER_NAME,
        # As in production: HTTPS is what nginx's X-Forwarded-Proto says; Django would redirect anything else.
        "SECURE_SSL_REDIRECT": "1",
        "SECURE_PROXY_SSL_HEADER": "1",
        "NUM_PROXIES": "1",
        # One export of a user's at a time, so that a running one shows in the next one's 429.
        "EXPORT_MAX_CONCURRENT": "1",
    }
    # Each process's memory: one worker, and counts that no earlier run left behind.
    environment.pop("REDIS_URL", None)
    # The admin's pages name their hashed static files (WhiteNoise's manifest): collected first, as in production.
    environment = served.with_static_files(environment, folder / "static")
    python = str(served.BIN / "python")
    served.run_checked([python, "manage.py", "migrate", "--noinput"], environment)
    output = served.run_checked([python, "manage.py", "shell", "--no-imports", "-c", SEED], environment)
    tokens = json.loads(output.strip().splitlines()[-1])
    with served.gunicorn(environment, ["--workers", "1"], log_folder=folder) as server:
        yield Service(port=server.port, database=database, tokens=tokens)


@dataclass
class Proxy(nginx.Nginx):
    tap: UpstreamTap


@pytest.fixture(scope="module")
def proxy(service, tmp_path_factory):
    tap = UpstreamTap(service.port)
    try:
        with nginx.running(tmp_path_factory.mktemp("nginx"), [tap.port]) as running:
            yield Proxy(**vars(running), tap=tap)
    finally:
        tap.close()


def token(service: Service, user: str) -> dict:
    return {"Authorization": f"Token token={service.tokens[user]}"}


def export_request(service: Service, user: str) -> dict:
    return {**token(service, user), "Content-Type": "application/json"}


def head_fields(head: bytes) -> list[tuple[str, str]]:
    """A request head's fields as the tap saw them: (lowercase name, value), in order, repeats kept."""
    lines = head.decode("latin-1").split("\r\n")[1:]
    return [(name.strip().lower(), value.strip()) for name, _, value in (line.partition(":") for line in lines)]


wait_for = functools.partial(served.wait_for, seconds=PATIENCE)


@pytest.fixture
def feed(proxy, service):
    """A new feed of owen's: its secret and its id."""
    created = ask(proxy, "POST", "/v1/feeds", {**token(service, "owen"), "Content-Type": "application/json"}, b"{}")
    assert created.status == 201
    url = created.json()["url"]
    assert url.startswith(f"https://{SERVER_NAME}/v1/feeds/")
    return urlsplit(url).path.removeprefix("/v1/feeds/").removesuffix(".ics"), created.json()["id"]


# TLS, HSTS and the redirect ---------------------------------------------------------------------------------


def test_plain_http_is_redirected_to_https_and_never_reaches_the_service(proxy):
    connection = http.client.HTTPConnection("127.0.0.1", proxy.http_port, timeout=PATIENCE)
    try:
        connection.request("GET", "/v1/feeds?test=plain-http", headers={"Host": SERVER_NAME})
        response = connection.getresponse()
    finally:
        connection.close()

    assert response.status == 301
    assert response.headers["Location"] == f"https://{SERVER_NAME}/v1/feeds?test=plain-http"
    assert proxy.tap.heads_with(b"test=plain-http") == []


def cookies_of(answer: Answer) -> SimpleCookie:
    cookies = SimpleCookie()
    for header in answer.headers.get_all("Set-Cookie") or []:
        cookies.load(header)
    return cookies


def test_over_https_the_admin_login_sets_secure_cookies_and_one_hsts_header(proxy, service):
    page = ask(proxy, "GET", "/admin/login/")
    assert page.status == 200
    # Django's, and no second one of nginx's.
    assert page.headers.get_all("Strict-Transport-Security") == ["max-age=31536000; includeSubDomains; preload"]
    cookies = cookies_of(page)
    assert cookies["csrftoken"]["secure"]
    form_token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body).group(1).decode()

    login = ask(proxy, "POST", "/admin/login/?next=/admin/", {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"csrftoken={cookies['csrftoken'].value}",
        # A browser's: Django's CSRF check over HTTPS compares it with the host it was asked for.
        "Origin": f"https://{SERVER_NAME}",
    }, urlencode({"username": "operator", "password": OPERATOR_PASSWORD, "csrfmiddlewaretoken": form_token}).encode())

    assert login.status == 302 and login.headers["Location"] == "/admin/"
    session = cookies_of(login)["sessionid"]
    assert session["secure"] and session["httponly"]
    assert login.headers.get_all("Strict-Transport-Security") == ["max-age=31536000; includeSubDomains; preload"]


# What nginx tells the service --------------------------------------------------------------------------------


def logged_addresses(service: Service) -> list[str]:
    """The client addresses of gunicorn's export log, oldest first."""
    with sqlite3.connect(f"file:{service.database}?mode=ro", uri=True) as database:
        return [address for (address,) in database.execute("SELECT client_address FROM export_exportlog ORDER BY id")]


def test_the_service_reads_the_address_nginx_saw_and_never_what_a_client_forwarded(proxy, service):
    forged = {"X-Forwarded-For": "192.0.2.1", "X-Forwarded-Proto": "http", "X-Request-Id": "chosen-by-the-client"}
    listed = ask(proxy, "GET", "/v1/feeds?test=forwarding", {**forged, **token(service, "owen")}, source=FORWARDING)
    assert listed.status == 200

    (head,) = proxy.tap.heads_with(b"test=forwarding")
    fields = head_fields(head)
    assert [value for name, value in fields if name == "x-forwarded-for"] == [FORWARDING]
    assert [value for name, value in fields if name == "x-forwarded-proto"] == ["https"]
    (request_id,) = [value for name, value in fields if name == "x-request-id"]
    assert re.fullmatch("[0-9a-f]{32}", request_id)
    assert b"192.0.2.1" not in head and b"chosen-by-the-client" not in head

    # The failed authentications of one address are counted as one, whatever it writes, and not its neighbour's.
    for number in range(20):
        wrong = {"Authorization": f"Token {UNKNOWN_KEY}", "X-Forwarded-For": f"192.0.2.{number}"}
        assert ask(proxy, "POST", "/v1/export/google", wrong, b"", source=ATTACKER).status == 401
    wrong = {"Authorization": f"Token {UNKNOWN_KEY}", "X-Forwarded-For": NEIGHBOUR}
    assert ask(proxy, "POST", "/v1/export/google", wrong, b"", source=ATTACKER).status == 429
    assert ask(proxy, "POST", "/v1/export/google", {"Authorization": f"Token {UNKNOWN_KEY}"}, b"",
               source=NEIGHBOUR).status == 401

    # And an export's log row names the address nginx saw.
    forwarding = {**export_request(service, "owen"), "X-Forwarded-For": ATTACKER}
    exported = ask(proxy, "POST", "/v1/export/google", forwarding, b"", source=NEIGHBOUR)
    assert exported.status == 200 and exported.body.count(b"BEGIN:VEVENT") == 3
    assert wait_for(lambda: logged_addresses(service), "logged")[-1] == NEIGHBOUR


# Slow clients -----------------------------------------------------------------------------------------------


def tls_connection(proxy: Proxy) -> ssl.SSLSocket:
    connection = socket.create_connection(("127.0.0.1", proxy.https_port), timeout=PATIENCE)
    return proxy.tls.wrap_socket(connection, server_hostname=SERVER_NAME)


def closed_without_the_services_answer(connection: ssl.SSLSocket) -> bool:
    """Whether nginx ends the connection (within PATIENCE) with nothing from the service: no bytes, or its own 408."""
    try:
        received = connection.recv(65536)
    except (ConnectionResetError, ssl.SSLError):
        received = b""
    finally:
        connection.close()
    return received == b"" or received.startswith(b"HTTP/1.1 408 ")


def test_slow_clients_hold_none_of_gunicorns_threads_and_nginx_ends_them_within_its_timeouts(proxy, service):
    # One byte of a request head, then nothing.
    stalled = [tls_connection(proxy) for _ in range(20)]
    for connection in stalled:
        connection.sendall(b"P")
    # A whole head, then a body that trickles in a byte at a time.
    trickling = [tls_connection(proxy) for _ in range(20)]
    for connection in trickling:
        connection.sendall(
            f"POST /v1/import?test=trickling HTTP/1.1\r\nHost: {SERVER_NAME}\r\n"
            f"Authorization: Token {service.tokens['owen']}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000\r\n\r\n".encode())
    done = threading.Event()

    def trickle():
        while not done.wait(0.5):
            for connection in trickling:
                connection.sendall(b"-")

    trickler = threading.Thread(target=trickle)
    trickler.start()
    try:
        # Twice as many requests as gunicorn has threads, each answered before nginx would time out any of the
        # 40: were they gunicorn's, the service would answer none of them until then.
        for _ in range(2 * THREADS):
            answer = ask(proxy, "GET", "/v1/feeds", token(service, "owen"),
                         timeout=seconds(shipped("client_header_timeout")))
            assert answer.status == 200
    finally:
        done.set()
        trickler.join()

    assert proxy.tap.heads_with(b"test=trickling") == []
    assert all(closed_without_the_services_answer(connection) for connection in stalled + trickling)


# Streamed answers ---------------------------------------------------------------------------------------------


def test_an_export_streams_through_nginx_at_the_pace_its_client_reads(proxy, service):
    connection = HTTPS(proxy)
    try:
        connection.request("POST", "/v1/export/ical?test=streamed", b"", export_request(service, "nora"))
        response = connection.getresponse()
        assert response.status == 200
        first = response.read(len(b"BEGIN:VCALENDAR"))
        (link,) = [link for link in proxy.tap.links if b"test=streamed" in link.head]

        # The client reads nothing more: nginx stops taking the response from gunicorn (it keeps no copy of its own)...
        wait_for(link.stalled.is_set, "stalled")
        # ... while the export runs, holding its user's one place...
        assert ask(proxy, "POST", "/v1/export/ical", export_request(service, "nora"), b"").status == 429
        # ... and nginx still takes none of it.
        assert link.stalled.is_set()
        taken = link.forwarded

        calendar = first + response.read()
    finally:
        connection.close()

    assert calendar.startswith(b"BEGIN:VCALENDAR") and calendar.endswith(b"END:VCALENDAR\r\n")
    assert calendar.count(b"BEGIN:VEVENT") == STREAMED_SLOTS
    # When its client stopped reading, nginx had taken less than half of the calendar.
    assert taken < len(calendar) / 2


def test_a_feed_is_never_compressed_while_the_json_api_and_the_exports_are(proxy, service, feed):
    secret, _ = feed
    compressed = {"Accept-Encoding": "gzip"}

    listing = ask(proxy, "GET", "/v1/feeds", {**token(service, "owen"), **compressed})
    calendar = ask(proxy, "GET", f"/v1/feeds/{secret}.ics", compressed)
    exported = ask(proxy, "POST", "/v1/export/ical", {**export_request(service, "owen"), **compressed}, b"")

    assert listing.status == 200 and listing.headers["Content-Encoding"] == "gzip"
    assert [item["id"] for item in json.loads(gzip.decompress(listing.body))] == [feed[1]]
    assert calendar.status == 200 and "Content-Encoding" not in calendar.headers
    assert calendar.body.startswith(b"BEGIN:VCALENDAR") and calendar.body.count(b"BEGIN:VEVENT") == 3
    assert not calendar.headers["ETag"].startswith("W/")
    assert exported.status == 200 and exported.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(exported.body).count(b"BEGIN:VEVENT") == 3


# Logs ----------------------------------------------------------------------------------------------------------


def test_nginx_logs_a_feeds_path_with_its_secret_masked_and_its_id_kept(proxy, service, feed):
    secret, feed_id = feed
    assert ask(proxy, "GET", f"/v1/feeds/{secret}.ics?utm=query-marker").status == 200
    assert ask(proxy, "GET", f"/v1/feeds/{secret}").status == 404
    assert ask(proxy, "POST", f"/v1/feeds/{feed_id}/rotate", token(service, "owen")).status == 200
    # An upstream that fails: nginx's error log would quote the request line.
    proxy.tap.hang_up_on = secret.encode()
    try:
        assert ask(proxy, "GET", f"/v1/feeds/{secret}.ics").status == 502
    finally:
        proxy.tap.hang_up_on = None

    # nginx writes a request's line once it has sent the answer: maybe after the client has read it.
    expected = ['"GET /v1/feeds/[redacted]" 200 ', '"GET /v1/feeds/[redacted]" 502 ',
                f'"POST /v1/feeds/{feed_id}/rotate" 200 ']
    access = proxy.logs / "timeslot.access.log"
    wait_for(lambda: all(line in access.read_text() for line in expected), "logged")
    for log in proxy.logs.iterdir():
        assert secret not in log.read_text(), log.name
        assert "query-marker" not in log.read_text(), log.name


# Request bodies ------------------------------------------------------------------------------------------------


def multipart(fields: dict[str, bytes], boundary: str = "timeslot-boundary") -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'.encode()
        + (b'; filename="calendar.ics"\r\nContent-Type: text/calendar' if name == "file" else b"")
        + b"\r\n\r\n" + value + b"\r\n"
        for name, value in fields.items()
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def test_the_largest_import_the_service_reads_passes_nginx_and_a_larger_body_is_nginxs_413(proxy, service):
    largest = settings.IMPORT_MAX_BYTES + MULTIPART_ALLOWANCE
    envelope = len(multipart({"file": b"", "note": b""}))
    body = multipart({"file": b"x" * settings.IMPORT_MAX_BYTES,
                      "note": b"n" * (largest - settings.IMPORT_MAX_BYTES - envelope)})
    assert len(body) == largest
    headers = {**token(service, "owen"), "Content-Type": "multipart/form-data; boundary=timeslot-boundary"}

    answer = ask(proxy, "POST", "/v1/import?test=largest", headers, body)

    # The service's answer about the file, in JSON: nginx passed the body on.
    assert answer.headers["Content-Type"] == "application/json" and answer.status not in (413, 502)
    assert len(proxy.tap.heads_with(b"test=largest")) == 1

    over = size(shipped("client_max_body_size")) + 1
    connection = HTTPS(proxy)
    try:
        connection.putrequest("POST", "/v1/import?test=over-the-limit")
        for name, value in {**headers, "Content-Length": str(over)}.items():
            connection.putheader(name, value)
        connection.endheaders()
        # nginx answers on the declared length, before any of the body.
        refused = connection.getresponse()
    finally:
        connection.close()
    assert refused.status == 413 and refused.headers["Content-Type"] == "text/html"
    assert proxy.tap.heads_with(b"test=over-the-limit") == []
