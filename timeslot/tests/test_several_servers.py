"""One service over several app servers: two gunicorns with the production settings, one database (the test's
PostgreSQL) and one Redis, behind deploy/nginx.conf as shipped (timeslot/tests/nginx.py) listing both in its
upstream. Over real HTTPS through nginx, and over plain HTTP to each server as nginx would ask it, the limits
count across both servers, a feed is the same bytes whichever answers, and a server that dies mid-export costs
that export alone.

Which server answered is read from what each writes anyway: its access log, whose lines end with the request's
id (the X-Request-Id nginx gave it and the answer carries), and for a stream still running, the connections
open on its port.
"""
import contextlib
import http.client
import os
import signal
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from django.core.management import call_command
from django.db import connection

from bench import procfs, served
from conftest import REDIS_URL
from export.tests.test_faults import slots_for, wait_for
from slots.tests.factories import TokenFactory, UserFactory
from timeslot.tests import nginx
from timeslot.tests.nginx import HTTPS, SERVER_NAME, Answer, ask
from timeslot.tests.upstream_tap import UpstreamTap

pytestmark = [
    # For pytest-django to make the test database: the tests reach it only through the servers, and the module's
    # users are written to it, for all of them, before the first begins.
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: two servers share the test's database, and pytest-django's SQLite one lives in "
               "the test process's memory",
    ),
]

GOOGLE, ICAL = "/v1/export/google", "/v1/export/ical"
# The bound of a request's answer, as of test_faults.py's wait_for(), which polls for what nginx or gunicorn do
# in a step: never an assertion on how long it took.
STEP = 10
# Small limits, so that each shows in a few requests: failed authentications an address may make and exports a
# user may start in a minute, and exports of a user's that may run at once.
FAILURES, EXPORTS, PLACES = 6, 8, 2
# The user whose exports stream long enough to be held or cut: a calendar of about 25 MB, far more than the
# sockets and nginx's buffers between gunicorn and the client hold.
STREAMED_SLOTS = 10_000
DESCRIPTION = "A long description, folded over many lines of the calendar. " * 35
# A client of its own loopback address (127.0.0.0/8 is all loopback on Linux).
ATTACKER, NEIGHBOUR = "127.0.0.2", "127.0.0.3"
UNKNOWN_KEY = "pjZdBUp2D8r4nmWh2LIsIbYe2lo"


@pytest.fixture(scope="module")
def tokens(django_db_setup, django_db_blocker):
    """The users' API keys, in the test database the servers share until the module's tests are over."""
    with django_db_blocker.unblock():
        keys = {}
        for name, slots in (("nora", STREAMED_SLOTS), ("owen", 3), ("rita", 3)):
            user = UserFactory(username=name)
            slots_for(user, slots, DESCRIPTION)
            keys[name] = TokenFactory(user=user).key
        try:
            yield keys
        finally:
            # As a transactional test leaves it: the tests after these find the database empty.
            call_command("flush", interactive=False, verbosity=0)


def the_servers_keys() -> redis.Redis:
    """The test's Redis, without the keys a server of the service writes there (unprefixed: Django's
    ":1:" and the key): no count of an earlier run's carries over. A test's own keys have a prefix."""
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()  # Fails the test if Redis is not there: .ci/run starts it.
    for key in client.scan_iter(":1:*"):
        client.delete(key)
    return client


@dataclass
class Cluster:
    servers: list[served.Served]
    proxy: nginx.Nginx
    redis: redis.Redis


@contextlib.contextmanager
def two_servers_behind_nginx(folder: Path):
    """Two gunicorns of one worker of 4 threads each, as production runs them behind a proxy, on the test
    database and the test's Redis with the same SECRET_KEY, and nginx in front of both."""
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    environment = {
        **os.environ,
        **served.production_environment(database_url),
        "ALLOWED_HOSTS": SERVER_NAME,
        "SECURE_SSL_REDIRECT": "1",
        "SECURE_PROXY_SSL_HEADER": "1",
        "NUM_PROXIES": "1",
        "REDIS_URL": REDIS_URL,
        "THROTTLE_FAILED_AUTH_RATE": f"{FAILURES}/min",
        "THROTTLE_EXPORT_RATE": f"{EXPORTS}/min",
        "EXPORT_MAX_CONCURRENT": str(PLACES),
        # Room for the fetches of one feed the test makes from both servers and through nginx.
        "THROTTLE_FEED_FETCH_RATE": "30/min",
    }
    shared = the_servers_keys()
    options = ["--workers", "1"]
    with (served.gunicorn(environment, options, log_folder=folder) as first,
          served.gunicorn(environment, options, log_folder=folder) as second,
          nginx.running(folder / "nginx", [first.port, second.port]) as proxy):
        yield Cluster(servers=[first, second], proxy=proxy, redis=shared)


@pytest.fixture(scope="module")
def cluster(tokens, tmp_path_factory):
    with two_servers_behind_nginx(tmp_path_factory.mktemp("cluster")) as running:
        yield running


# Asking, and who answered --------------------------------------------------------------------------------


def export_request(tokens: dict, user: str) -> dict:
    return {"Authorization": f"Token token={tokens[user]}", "Content-Type": "application/json"}


def direct(server: served.Served, method: str, path: str, headers: dict | None = None, body: bytes = b"", *,
           client: str = "127.0.0.1") -> Answer:
    """A request to one server as nginx passes it on, for a client at that address over HTTPS."""
    forwarded = {"Host": SERVER_NAME, "X-Forwarded-For": client, "X-Forwarded-Proto": "https"}
    plain = http.client.HTTPConnection("127.0.0.1", server.port, timeout=STEP)
    try:
        plain.request(method, path, body=body, headers={**forwarded, **(headers or {})})
        response = plain.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        plain.close()


def answered_by(cluster: Cluster, answer: Answer) -> int:
    """The index of the server whose access log has the answer's request (gunicorn writes the line once the
    answer has gone, maybe after the client has read it)."""
    ending = f" {answer.headers['X-Request-Id']}"

    def server():
        for index, one in enumerate(cluster.servers):
            if any(line.endswith(ending) for line in one.log.read_text().splitlines()):
                return index + 1
        return None

    return wait_for(server, f"logged by a server ({ending.strip()})") - 1


def through_nginx_on_both(cluster: Cluster, send) -> list[Answer]:
    """The answers of send() through nginx, made again until each server has answered at least one (nginx's
    round robin takes turns: two, unless a server is out)."""
    answers, seen = [], set()
    while seen != {0, 1}:
        assert len(answers) < 6, f"nginx sent {len(answers)} requests to server {seen} alone"
        answers.append(answer := send())
        seen.add(answered_by(cluster, answer))
    return answers


def established(port: int) -> int:
    """The open connections a server at this loopback port has accepted (the kernel's table, IPv4)."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    # Fields: the entry's number, the local address:port, the remote one, the state (01: established).
    return sum(1 for line in lines if (fields := line.split())[3] == "01" and int(fields[1].split(":")[1], 16) == port)


def refused_for_running_exports(answer: Answer) -> bool:
    return answer.status == 429 and "running" in answer.json()["detail"]


# The counts ------------------------------------------------------------------------------------------------


def test_failed_authentications_spread_over_both_servers_lock_the_address_out_on_both(cluster, tokens):
    wrong = {"Authorization": f"Token {UNKNOWN_KEY}"}
    failures = [ask(cluster.proxy, "POST", GOOGLE, wrong, b"", source=ATTACKER, timeout=STEP)
                for _ in range(FAILURES)]
    assert [failure.status for failure in failures] == [401] * FAILURES
    # Each server saw some of them, fewer than the rate: counted each on its own, none would refuse yet.
    assert {answered_by(cluster, failure) for failure in failures} == {0, 1}

    # The address is past its rate on both: through nginx, a valid key too is refused before it is looked up...
    valid = export_request(tokens, "owen")
    refusals = through_nginx_on_both(
        cluster, lambda: ask(cluster.proxy, "POST", GOOGLE, valid, b"", source=ATTACKER, timeout=STEP))
    assert [refusal.status for refusal in refusals] == [429] * len(refusals)
    assert all(int(refusal.headers["Retry-After"]) <= 60 for refusal in refusals)
    # ... and so it is when each server is asked for that address.
    for server in cluster.servers:
        assert direct(server, "POST", GOOGLE, valid, client=ATTACKER).status == 429
    # Another address is not.
    assert ask(cluster.proxy, "POST", GOOGLE, wrong, b"", source=NEIGHBOUR, timeout=STEP).status == 401


def test_a_users_export_rate_counts_the_exports_of_both_servers(cluster, tokens):
    request = export_request(tokens, "rita")
    exports = [ask(cluster.proxy, "POST", GOOGLE, request, b"", timeout=STEP) for _ in range(EXPORTS)]
    assert [export.status for export in exports] == [200] * EXPORTS
    assert all(export.body.count(b"BEGIN:VEVENT") == 3 for export in exports)
    assert {answered_by(cluster, export) for export in exports} == {0, 1}

    refusals = through_nginx_on_both(cluster, lambda: ask(cluster.proxy, "POST", GOOGLE, request, b"", timeout=STEP))
    assert [refusal.status for refusal in refusals] == [429] * len(refusals)
    for server in cluster.servers:
        assert direct(server, "POST", GOOGLE, request).status == 429


class HeldExport:
    """An export asked of one server whose client reads its head and then nothing: gunicorn's thread stays in
    the stream, holding its place, until the connection closes."""

    def __init__(self, server: served.Served, headers: dict):
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=STEP)
        self.connection.request("POST", ICAL, b"", {
            "Host": SERVER_NAME, "X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https", **headers})
        self.response = self.connection.getresponse()
        assert self.response.status == 200
        assert self.response.read(len(b"BEGIN:VCALENDAR")) == b"BEGIN:VCALENDAR"

    def close(self):
        self.connection.close()


def test_the_places_of_running_exports_taken_on_one_server_are_taken_on_the_other(cluster, tokens):
    request = export_request(tokens, "nora")
    first, second = cluster.servers
    held = []
    try:
        for _ in range(PLACES):
            held.append(HeldExport(first, request))

        assert refused_for_running_exports(direct(second, "POST", ICAL, request))
        refusals = through_nginx_on_both(cluster, lambda: ask(cluster.proxy, "POST", ICAL, request, b"", timeout=STEP))
        assert all(refused_for_running_exports(refusal) for refusal in refusals)
        # Still running, not ended: the places were taken by streams, not left behind.
        assert established(first.port) >= PLACES
    finally:
        for export in held:
            export.close()


# The feeds ---------------------------------------------------------------------------------------------------


def test_a_feed_is_the_same_bytes_and_etag_whichever_server_answers(cluster, tokens):
    created = ask(cluster.proxy, "POST", "/v1/feeds", export_request(tokens, "owen"), b"{}", timeout=STEP)
    assert created.status == 201
    path = urlsplit(created.json()["url"]).path
    first, second = cluster.servers

    answers = [direct(first, "GET", path)]
    # What the first server put in the shared cache of the feed, its version and its calendar, forgotten: the
    # second reads the one from the database and writes the other itself.
    forgotten = [*cluster.redis.keys(":1:feed_version_*"), *cluster.redis.keys(":1:feed_body_*")]
    assert len(forgotten) == 2 and cluster.redis.delete(*forgotten) == 2
    answers.append(direct(second, "GET", path))
    answers += through_nginx_on_both(cluster, lambda: ask(cluster.proxy, "GET", path, timeout=STEP))

    assert [answer.status for answer in answers] == [200] * len(answers)
    assert answers[0].body.startswith(b"BEGIN:VCALENDAR") and answers[0].body.count(b"BEGIN:VEVENT") == 3
    assert {answer.body for answer in answers} == {answers[0].body}
    etag = answers[0].headers["ETag"]
    assert not etag.startswith("W/")
    assert {answer.headers["ETag"] for answer in answers} == {etag}
    # The ETag one server gave revalidates on the other.
    for server in cluster.servers:
        revalidated = direct(server, "GET", path, {"If-None-Match": etag})
        assert revalidated.status == 304 and revalidated.body == b""


# A server that stops -----------------------------------------------------------------------------------------


def test_nginx_passes_a_request_on_to_the_next_server_only_when_the_first_cannot_have_run_it(
        cluster, tokens, tmp_path):
    live = cluster.servers[1]
    feeds = ("GET", "/v1/feeds?test=passed-on", export_request(tokens, "owen"))
    export = ("POST", f"{GOOGLE}?test=not-passed-on", export_request(tokens, "owen"), b"")
    # The first server of each nginx below is the one a fresh nginx's round robin asks first.

    # One that hangs up on every request it has read, before any answer: a GET is passed on to the next server
    # and answered; a POST, which may have run, is nginx's 502.
    tap = UpstreamTap(live.port)
    tap.hang_up_on = b"test="
    try:
        with nginx.running(tmp_path / "hangs-up-get", [tap.port, live.port]) as proxy:
            passed_on = ask(proxy, *feeds, timeout=STEP)
        with nginx.running(tmp_path / "hangs-up-post", [tap.port, live.port]) as proxy:
            not_passed_on = ask(proxy, *export, timeout=STEP)
    finally:
        tap.close()
    assert len(tap.heads_with(b"test=passed-on")) == 1 and len(tap.heads_with(b"test=not-passed-on")) == 1
    assert passed_on.status == 200 and cluster.servers[answered_by(cluster, passed_on)] is live
    assert not_passed_on.status == 502 and "X-Request-Id" not in not_passed_on.headers

    # One that refuses connections (nothing listens on its port) has received nothing: a POST too is passed on.
    with nginx.running(tmp_path / "refuses", [served.free_port(), live.port]) as proxy:
        refused_first = ask(proxy, *export, timeout=STEP)
    assert refused_first.status == 200 and cluster.servers[answered_by(cluster, refused_first)] is live


def stop_at_once(server: served.Served) -> None:
    """The server gone as with its machine: its master and workers killed, no request given time to end."""
    workers = procfs.children(server.pid)
    os.kill(server.pid, signal.SIGKILL)
    for worker in workers:
        os.kill(worker, signal.SIGKILL)


def read_on(response: http.client.HTTPResponse) -> tuple[bytes, bool]:
    """The rest of a streamed body, and whether it ended whole (its last chunk came) or was cut."""
    try:
        return response.read(), True
    except http.client.IncompleteRead as cut:
        return cut.partial, False
    except (ConnectionError, ssl.SSLError):
        return b"", False


def test_a_server_stopped_mid_export_costs_that_stream_alone_and_the_next_requests_go_to_the_other(
        tokens, tmp_path):
    with two_servers_behind_nginx(tmp_path) as cluster:
        request = export_request(tokens, "nora")
        streams = []
        try:
            # Two exports through nginx, their clients reading their first bytes and then nothing: each is
            # mid-stream on its server, one on each (nginx's round robin takes turns).
            for _ in cluster.servers:
                before = [established(server.port) for server in cluster.servers]
                stream = HTTPS(cluster.proxy, timeout=STEP)
                stream.request("POST", ICAL, b"", request)
                response = stream.getresponse()
                assert response.status == 200
                first_bytes = response.read(65536)
                streaming = wait_for(lambda: [index for index, server in enumerate(cluster.servers)
                                              if established(server.port) > before[index]], "streaming")
                streams.append((stream, response, first_bytes, *streaming))
            assert sorted(index for *_, index in streams) == [0, 1]
            doomed, survivor = (cluster.servers[index] for *_, index in streams)

            stop_at_once(doomed)
            cut_body, cut_whole = read_on(streams[0][1])
            rest, whole = read_on(streams[1][1])
        finally:
            for stream, *_ in streams:
                stream.close()

        # The client of the stopped server sees its answer cut, never an end that was not the calendar's.
        assert not cut_whole
        assert not (streams[0][2] + cut_body).endswith(b"END:VCALENDAR\r\n")
        # The other stream ends whole.
        calendar = streams[1][2] + rest
        assert whole and calendar.endswith(b"END:VCALENDAR\r\n")
        assert calendar.count(b"BEGIN:VEVENT") == STREAMED_SLOTS

        # The next requests through nginx, a GET and a POST in turn, are all answered, by the server left.
        for number in range(4):
            if number % 2:
                answer = ask(cluster.proxy, "GET", "/v1/feeds", export_request(tokens, "owen"), timeout=STEP)
            else:
                answer = ask(cluster.proxy, "POST", GOOGLE, export_request(tokens, "owen"), b"", timeout=STEP)
            assert answer.status == 200, answer.body[:500]
            assert cluster.servers[answered_by(cluster, answer)] is survivor
