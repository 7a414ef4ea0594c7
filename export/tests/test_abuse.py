"""Abuse and resource limits: throttles on local memory and on a real Redis, the slot limit,
and hostile credentials that must be a 401, never a 500."""
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from bench import served
from conftest import REDIS_URL
from export.models import ExportLog
from export.tests.importing import calendar, upload
from export.tests.test_api import streams_from_its_first_chunk
from export.tests.test_export_log import hang_up
from export.tests.test_feeds import fetch
from slots.tests.factories import SlotFactory, SlotGroupFactory, UserFactory

# Every test here runs on both caches the service runs on: each process's memory, and Redis.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shared_cache")]

ROOT = Path(__file__).resolve().parents[2]
GOOGLE = "/v1/export/google"
EXPORTS = ["/v1/export/google", "/v1/export/ical", "/v1/export/outlook", "/v1/export/timeslot"]
FEEDS = "/v1/feeds"
ATTACKER = "203.0.113.7"
NEIGHBOUR = "198.51.100.20"
UNKNOWN_KEY = "pjZdBUp2D8r4nmWh2LIsIbYe2lo"


def post(url=GOOGLE, *, key=None, address="127.0.0.1", client=None, **extra):
    """A POST with an empty JSON body as the documented curl sends it, from the address, with the key if given."""
    if key is not None:
        extra["HTTP_AUTHORIZATION"] = f"Token token={key}"
    return (client or APIClient()).post(url, b"", content_type="application/json", REMOTE_ADDR=address, **extra)


def export(url=GOOGLE, **kwargs):
    """post(), its body read to the end (which ends the stream and gives its place back)."""
    response = post(url, **kwargs)
    response.body = b"".join(response.streaming_content) if response.streaming else response.content
    return response


def fail_authentication(times: int, address: str = ATTACKER) -> None:
    for _ in range(times):
        assert post(key=UNKNOWN_KEY, address=address).status_code == 401


def assert_throttled(response, period: int = 60) -> None:
    """A 429 in JSON, and Retry-After within the rate's period."""
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert 1 <= int(response["Retry-After"]) <= period
    assert "detail" in response.json()


def with_rates(settings, **rates: str) -> None:
    """These throttle rates instead of the configured ones, the others as they are."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates}}


def feed_path(token) -> str:
    response = APIClient().post(FEEDS, {}, format="json", HTTP_AUTHORIZATION=f"Token {token.key}")
    return urlsplit(response.json()["url"]).path


# Failed authentications per address ---------------------------------------------------------


def test_the_21st_failed_authentication_from_one_address_is_429_with_retry_after_in_json():
    fail_authentication(20)

    assert_throttled(post(key=UNKNOWN_KEY, address=ATTACKER))


def test_another_address_is_not_throttled_by_those_failures(token):
    fail_authentication(20)
    assert_throttled(post(key=UNKNOWN_KEY, address=ATTACKER))

    assert post(key=UNKNOWN_KEY, address=NEIGHBOUR).status_code == 401
    assert export(key=token.key, address=NEIGHBOUR).status_code == 200


def test_a_valid_token_from_a_throttled_address_is_429_without_a_database_lookup(token, django_assert_num_queries):
    fail_authentication(20)

    with django_assert_num_queries(0):
        response = post(key=token.key, address=ATTACKER)

    assert_throttled(response)


def test_failures_at_every_token_endpoint_count_together_and_throttle_them_all(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {UNKNOWN_KEY}", REMOTE_ADDR=ATTACKER)
    for _ in range(5):
        assert client.post(GOOGLE, b"", content_type="application/json").status_code == 401
        assert client.post("/v1/import", {}, format="multipart").status_code == 401
        assert client.get(FEEDS).status_code == 401
        assert client.post(f"{FEEDS}/{uuid.uuid4()}/rotate").status_code == 401

    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}", REMOTE_ADDR=ATTACKER)
    assert_throttled(client.post("/v1/export/outlook", b"", content_type="application/json"))
    assert_throttled(upload(client, calendar("UID:a\nSUMMARY:a\nDTSTART:20261207T090000Z")))
    assert_throttled(client.get(FEEDS))
    assert_throttled(client.delete(f"{FEEDS}/{uuid.uuid4()}"))


def test_x_forwarded_for_does_not_change_the_counted_address():
    for number in range(20):
        response = post(key=UNKNOWN_KEY, address=ATTACKER, HTTP_X_FORWARDED_FOR=f"192.0.2.{number}")
        assert response.status_code == 401

    assert_throttled(post(key=UNKNOWN_KEY, address=ATTACKER, HTTP_X_FORWARDED_FOR="192.0.2.200"))


@pytest.mark.parametrize("proxies", [1, 2])
def test_behind_num_proxies_the_address_the_outermost_proxy_saw_is_counted_and_logged(settings, token, proxies):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": proxies}
    # What the client wrote itself, then what each of our proxies appended: the address it saw.
    inner_proxies = ["10.0.0.3"] * (proxies - 1)

    def forwarded_for(client: str, written: str) -> str:
        return ", ".join([written, client, *inner_proxies])

    for number in range(20):
        written = forwarded_for(ATTACKER, f"192.0.2.{number}")
        assert post(key=UNKNOWN_KEY, address="10.0.0.2", HTTP_X_FORWARDED_FOR=written).status_code == 401
    written = forwarded_for(ATTACKER, "192.0.2.99")
    assert_throttled(post(key=UNKNOWN_KEY, address="10.0.0.2", HTTP_X_FORWARDED_FOR=written))

    # Another client behind the same proxies is not held back, and its export is logged with its address.
    response = export(key=token.key, address="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded_for(NEIGHBOUR, ATTACKER))
    assert response.status_code == 200
    assert ExportLog.objects.get().client_address == NEIGHBOUR


def test_without_num_proxies_x_forwarded_for_is_not_logged_either(token):
    assert export(key=token.key, address=NEIGHBOUR, HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 200

    assert ExportLog.objects.get().client_address == NEIGHBOUR


def test_requests_without_a_token_are_401_but_not_counted_as_guesses(token):
    for _ in range(25):
        assert post(address=ATTACKER).status_code == 401

    assert export(key=token.key, address=ATTACKER).status_code == 200


def test_wrong_feed_secrets_count_as_failed_authentications_of_the_address(token):
    SlotFactory(creator=token.user)
    path = feed_path(token)
    for _ in range(20):
        assert APIClient().get(f"{FEEDS}/wrong-{uuid.uuid4().hex}.ics", REMOTE_ADDR=ATTACKER).status_code == 404

    assert_throttled(APIClient().get(path, REMOTE_ADDR=ATTACKER))
    assert_throttled(post(key=token.key, address=ATTACKER))
    response = APIClient().get(path, REMOTE_ADDR=NEIGHBOUR)
    assert response.status_code == 200
    assert b"END:VCALENDAR" in b"".join(response.streaming_content)


def test_the_failed_authentication_rate_is_configurable(settings, token):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "failed_authentication": "2/min"}}
    fail_authentication(2)

    assert_throttled(post(key=token.key, address=ATTACKER))


# Exports per user ---------------------------------------------------------------------------


def test_the_61st_export_of_a_user_in_a_minute_is_429(user, token, client_for):
    SlotFactory(creator=user)
    for number in range(60):
        assert export(EXPORTS[number % 4], key=token.key).status_code == 200

    assert_throttled(post(key=token.key))
    assert export(client=client_for(UserFactory())).status_code == 200


def test_imports_count_in_the_same_rate_as_exports(settings, api):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "export": "3/min"}}
    document = calendar("UID:a@example.com\nSUMMARY:a\nDTSTART:20261207T090000Z")
    assert upload(api, document).status_code == 200
    assert export(client=api).status_code == 200
    assert export("/v1/export/timeslot", client=api).status_code == 200

    assert_throttled(upload(api, document))
    assert_throttled(post(client=api))


def test_the_calendars_feeds_send_count_in_their_owners_export_rate_and_revalidations_do_not(settings, token):
    with_rates(settings, export="3/min")
    path = feed_path(token)
    etag = fetch(path)["ETag"]
    assert fetch(path, If_None_Match=etag).status_code == 304
    assert fetch(path, method="head").status_code == 200
    assert export(key=token.key).status_code == 200
    # Another feed of the same owner's: one rate for all.
    assert fetch(feed_path(token)).status_code == 200

    assert_throttled(fetch(path))
    assert_throttled(post(key=token.key))
    assert fetch(path, If_None_Match=etag).status_code == 304


# Feeds ----------------------------------------------------------------------------------------


def test_the_61st_feed_change_of_a_user_in_an_hour_is_429_and_listing_changes_nothing(api, client_for):
    created = [api.post(FEEDS, {}, format="json") for _ in range(20)]
    assert {response.status_code for response in created} == {201}
    ids = [response.json()["id"] for response in created]
    assert {api.post(f"{FEEDS}/{feed_id}/rotate").status_code for feed_id in ids} == {200}
    assert {api.delete(f"{FEEDS}/{feed_id}").status_code for feed_id in ids[:19]} == {204}
    assert api.get(FEEDS).status_code == 200
    assert api.post(FEEDS, {}, format="json").status_code == 201

    assert_throttled(api.post(FEEDS, {}, format="json"), period=3600)
    assert_throttled(api.post(f"{FEEDS}/{ids[-1]}/rotate"), period=3600)
    assert_throttled(api.delete(f"{FEEDS}/{ids[-1]}"), period=3600)
    assert api.get(FEEDS).status_code == 200
    assert client_for(UserFactory()).post(FEEDS, {}, format="json").status_code == 201


def test_the_11th_fetch_of_a_feed_in_a_minute_is_429_from_any_address_and_other_feeds_are_not_held_back(token):
    SlotFactory(creator=token.user)
    path, other = feed_path(token), feed_path(token)
    etag = fetch(path)["ETag"]
    for number in range(9):
        answer = fetch(path, APIClient(REMOTE_ADDR=f"192.0.2.{number}"), **[{}, {"If_None_Match": etag}][number % 2])
        assert answer.status_code in (200, 304)

    assert_throttled(fetch(path, APIClient(REMOTE_ADDR=NEIGHBOUR)))
    assert fetch(path, If_None_Match=etag).status_code == fetch(path, method="head").status_code == 429
    assert fetch(other).body.count(b"BEGIN:VEVENT") == 1


def test_the_feed_fetch_rate_is_configurable(settings, token):
    with_rates(settings, feed_fetch="2/min")
    path = feed_path(token)
    assert [fetch(path).status_code for _ in range(2)] == [200, 200]

    assert_throttled(fetch(path))


def test_a_feeds_fetches_write_to_the_database_once_an_interval_whatever_they_answer(token):
    SlotFactory(creator=token.user)
    path = feed_path(token)

    # Ten fetches, the feed's rate in a minute: full ones, revalidations, HEADs.
    with CaptureQueriesContext(connection) as queries:
        etag = fetch(path)["ETag"]
        for _ in range(3):
            assert fetch(path).status_code == 200
            assert fetch(path, If_None_Match=etag).status_code == 304
            assert fetch(path, method="head").status_code == 200

    writes = [query["sql"] for query in queries.captured_queries if query["sql"].startswith(("INSERT", "UPDATE"))]
    # The first fetch's export log row and its fetch counts with last_fetched_at (export/fetch_counts.py).
    assert len(writes) == 2
    assert ExportLog.objects.get().status == 200


# Concurrent exports per user ----------------------------------------------------------------


@pytest.fixture
def hold_exports(token):
    """Begins exports (their first chunk sent) and leaves them open, as clients that read slowly;
    closes whatever is still open when the test ends, as a test's transaction needs."""
    running = []

    def hold(count: int, url=GOOGLE, path=None) -> list:
        # Else a small calendar is written whole, and its place given back, before the answer starts.
        with streams_from_its_first_chunk:
            responses = [APIClient().get(path) if path else post(url, key=token.key) for _ in range(count)]
        assert [response.status_code for response in responses] == [200] * count
        running.extend(responses)
        return responses

    yield hold
    for response in running:
        hang_up(response)


def test_a_fifth_concurrent_export_is_429_and_one_that_finishes_frees_its_place(user, token, hold_exports):
    SlotFactory.create_batch(3, creator=user)
    first, *_ = hold_exports(4)

    assert_throttled(post("/v1/export/outlook", key=token.key))
    b"".join(first.streaming_content)
    hold_exports(1, "/v1/export/timeslot")
    assert_throttled(post(key=token.key))


def test_an_export_whose_client_went_away_frees_its_place(user, token, hold_exports):
    SlotFactory.create_batch(3, creator=user)
    *_, last = hold_exports(4)

    hang_up(last)

    hold_exports(1)
    assert_throttled(post(key=token.key))


def test_another_users_exports_are_not_held_back(client_for, hold_exports):
    hold_exports(4)

    assert export(client=client_for(UserFactory())).status_code == 200


def test_a_feed_fetch_takes_one_of_its_owners_places(token, hold_exports):
    path = feed_path(token)
    *_, last = hold_exports(4)

    assert_throttled(APIClient().get(path))
    hang_up(last)
    hold_exports(1, path=path)
    assert_throttled(post(key=token.key))


def test_the_place_of_an_export_that_never_ends_expires(settings, token, hold_exports):
    # A worker that died mid-export never gives its place back; the place outlives it by the hold.
    settings.EXPORT_HOLD_SECONDS = 1
    hold_exports(4)
    assert_throttled(post(key=token.key))

    time.sleep(2.2)

    assert export(key=token.key).status_code == 200


def test_the_number_of_concurrent_exports_is_configurable(settings, token, hold_exports):
    settings.EXPORT_MAX_CONCURRENT = 1
    (running,) = hold_exports(1)

    assert_throttled(post(key=token.key))
    hang_up(running)
    assert export(key=token.key).status_code == 200


# The slot limit -----------------------------------------------------------------------------


@pytest.mark.parametrize("url", EXPORTS)
def test_an_export_beyond_the_slot_limit_is_422_naming_the_limit(settings, user, token, url):
    settings.EXPORT_MAX_SLOTS = 3
    SlotFactory.create_batch(4, creator=user)

    response = post(url, key=token.key)

    assert response.status_code == 422
    assert not response.streaming
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": "This export holds more than 3 slots, the most one export may hold. Export one group at a time.",
        "max_slots": 3, "request_id": response["X-Request-Id"],
    }


def test_an_export_at_the_slot_limit_is_sent(settings, user, token):
    settings.EXPORT_MAX_SLOTS = 3
    SlotFactory.create_batch(3, creator=user)

    response = export(key=token.key)

    assert response.status_code == 200
    assert response.body.count(b"BEGIN:VEVENT") == 3


def test_the_slot_limit_counts_the_slots_of_the_exported_group(settings, client_for, user):
    settings.EXPORT_MAX_SLOTS = 3
    group = SlotGroupFactory(owner=user)
    SlotFactory.create_batch(2, creator=user, groups=[group])
    SlotFactory.create_batch(2, creator=user)
    client = client_for(user)

    assert export(client=client).status_code == 422
    response = client.post(GOOGLE, {"group": str(group.uuid)}, format="json")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).count(b"BEGIN:VEVENT") == 2


def test_a_feed_beyond_the_slot_limit_is_422(settings, user, token):
    settings.EXPORT_MAX_SLOTS = 3
    SlotFactory.create_batch(4, creator=user)

    response = APIClient().get(feed_path(token))

    assert response.status_code == 422
    assert response.json()["max_slots"] == 3


def test_refused_exports_give_their_place_back(settings, user, token):
    settings.EXPORT_MAX_SLOTS = 1
    SlotFactory.create_batch(2, creator=user)
    for _ in range(5):
        assert post(key=token.key).status_code == 422

    settings.EXPORT_MAX_SLOTS = 2
    assert export(key=token.key).status_code == 200


def test_the_admins_download_is_an_operators_tool_without_the_users_limits(settings, client, user, hold_exports):
    SlotFactory.create_batch(2, creator=user)
    hold_exports(4)
    settings.EXPORT_MAX_SLOTS = 1
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.get(reverse("admin:auth_user_export_download", args=[user.pk]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content).count(b"BEGIN:VEVENT") == 2


# Hostile credentials ------------------------------------------------------------------------
# (NUL and non-ASCII bytes in the token header and an inactive user: export/tests/test_api.py.)


def test_a_deleted_token_is_401_at_every_token_endpoint(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token token={token.key}")
    assert client.get(FEEDS).status_code == 200
    token.delete()

    for response in [
        client.post(GOOGLE, b"", content_type="application/json"),
        upload(client, calendar("UID:a\nSUMMARY:a\nDTSTART:20261207T090000Z")),
        client.get(FEEDS),
    ]:
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
        assert response["Content-Type"] == "application/json"


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    """gunicorn serving the project on a free loopback port, as in production (DEBUG=0), with the header limit
    raised so that a 64 KB header reaches the token authentication, and no failure throttle (these tests are
    about the header); on an empty database, which no refusal reads."""
    environment = {
        **os.environ,
        **served.production_environment(f"sqlite:///{tmp_path_factory.mktemp('gunicorn')}/empty.sqlite3"),
        "THROTTLE_FAILED_AUTH_RATE": "",
    }
    environment.pop("REDIS_URL", None)
    with served.gunicorn(environment, ["--limit-request-field_size", "70000"]) as server:
        yield server.port


def raw_export(port: int, authorization: bytes) -> tuple[int, bytes]:
    """POST /v1/export/google with these bytes as the Authorization header, as any client can send them."""
    # The first request waits for a worker that may still be starting: a minute, on a loaded machine.
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        connection.sendall(
            b"POST /v1/export/google HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 0\r\nConnection: close\r\nAuthorization: " + authorization + b"\r\n\r\n"
        )
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


@pytest.mark.parametrize("authorization", [
    "Token tökén".encode(), "Token t\xf6k\xe9n".encode("latin-1"), b"Token " + b"a" * 65536, b", ; = \" " * 8192,
])
def test_non_ascii_or_64_kb_tokens_over_real_http_are_401_in_json(gunicorn, authorization):
    status, body = raw_export(gunicorn, authorization)

    assert status == 401
    assert body.startswith(b"{") and b"detail" in body


@pytest.mark.parametrize("authorization", [b"Token token=abc\x00def", b"Token abc\x7fdef"])
def test_a_nul_or_control_byte_in_a_token_is_refused_by_gunicorn_itself(gunicorn, authorization):
    # RFC 9110 §5.5: such a field value is invalid; gunicorn answers 400 before Django sees the request.
    status, _ = raw_export(gunicorn, authorization)

    assert status == 400


@pytest.mark.parametrize("secret", ["%00", "a%00b", "t%C3%B6k%C3%A9n", "%FF%FE", "x" * 4096])
def test_a_nul_non_ascii_or_oversize_feed_secret_is_404_not_500(secret):
    response = APIClient().get(f"{FEEDS}/{secret}.ics")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "request_id": response["X-Request-Id"]}


# An unreachable cache --------------------------------------------------------------------------


def test_an_unreachable_cache_lets_requests_through_and_says_so_in_the_log(unreachable_cache, user, token, caplog):
    SlotFactory(creator=user)

    with caplog.at_level(logging.ERROR):
        assert export(key=token.key).body.count(b"BEGIN:VEVENT") == 1
        assert post(key=UNKNOWN_KEY).status_code == 401
        path = feed_path(token)
        assert [fetch(path).body.count(b"BEGIN:VEVENT") for _ in range(2)] == [1, 1]

    unreachable = [record.getMessage() for record in caplog.records if "cache is unreachable" in record.getMessage()]
    assert any("ExportRateThrottle" in message for message in unreachable)
    assert any("FailedAuthenticationThrottle" in message for message in unreachable)
    assert any("FeedChangeThrottle" in message for message in unreachable)
    assert any("FeedFetchThrottle" in message for message in unreachable)
    assert any("goes on without a place" in message for message in unreachable)
    # Without the cache's mark of an interval recorded, every fetch is.
    assert ExportLog.objects.filter(kind="feed").count() == 2


# Configuration ------------------------------------------------------------------------------


def test_the_limits_and_the_shared_cache_come_from_the_environment():
    environment = {key: value for key, value in os.environ.items() if key not in {"DEBUG", "SECRET_KEY"}}
    environment.update(
        THROTTLE_FAILED_AUTH_RATE="5/hour", THROTTLE_EXPORT_RATE="", EXPORT_MAX_CONCURRENT="2",
        EXPORT_MAX_SLOTS="1000", REDIS_URL=REDIS_URL, THROTTLE_ADMIN_LOGIN_USERNAME_RATE="3/5min",
        THROTTLE_ADMIN_LOGIN_ADDRESS_RATE="", THROTTLE_FEED_CHANGE_RATE="3/day", THROTTLE_FEED_FETCH_RATE="",
        FEED_MAX_PER_USER="7", FEED_FETCH_RECORD_SECONDS="300",
    )
    show = (
        "from django.conf import settings as s; print(s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'], "
        "s.EXPORT_MAX_CONCURRENT, s.EXPORT_MAX_SLOTS, s.FEED_MAX_PER_USER, s.FEED_FETCH_RECORD_SECONDS, "
        "s.CACHES['default']['BACKEND'])"
    )

    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", show], cwd=ROOT, env=environment,
        capture_output=True, text=True, timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        "{'failed_authentication': '5/hour', 'export': None, 'admin_login_username': '3/5min', "
        "'admin_login_address': None, 'feed_change': '3/day', 'feed_fetch': None} "
        "2 1000 7 300 django.core.cache.backends.redis.RedisCache"
    )
