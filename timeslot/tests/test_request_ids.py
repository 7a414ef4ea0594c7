"""Every request's id (timeslot/request_ids.py): the proxy's behind proxies of ours, else one made here; in the
answer's X-Request-Id, in every JSON error body, in each log line written for the request (its streamed body
included) and in its export log row. Through Django's test client, then over a real gunicorn in both log
formats.
"""
import io
import json
import logging
import os
import re
import socket

import pytest
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from bench import served
from export.models import ExportLog
from export.tests.test_api import export
from export.tests.test_export_log import hang_up
from export.tests.test_faults import fetch
from export.tests.test_feeds import create, path_of
from export.tests.test_log_redaction import manage_shell
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

GOOGLE = "/v1/export/google"
# An id as a proxy gives it (nginx's $request_id is 32 hex digits; a tracer's may hold dots and dashes).
GIVEN = "edge-7f3a.B_9"
# What the service makes when it takes none: 32 hex digits.
MADE = re.compile(r"[0-9a-f]{32}")
HOSTILE = {
    "too long": "x" * 129,
    "a line break": "abc\r\nX-Injected: 1",
    "a newline": "abc\ndef",
    "quotes": 'a"b\'c',
    "a space": "a b",
    "a comma (two headers joined)": "abc,def",
    "empty": "",
    "not ASCII": "ïd",
    "markup": "<script>",
}


@pytest.fixture
def behind_a_proxy(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}


@pytest.fixture
def console():
    """What the service's own console handler writes meanwhile: a handler with its filters and formatter
    (settings.LOGGING), writing to a string."""
    configured = next(handler for handler in logging.getLogger().handlers if handler.name == "console")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(configured.formatter)
    for known in configured.filters:
        handler.addFilter(known)
    logging.getLogger().addHandler(handler)
    yield stream
    logging.getLogger().removeHandler(handler)


def lines_of(console, request_id: str) -> list[str]:
    return [line for line in console.getvalue().splitlines() if f"[{request_id}]" in line]


def broken_slot(user):
    """A slot that cannot become an event (an all-day slot in a zone that does not exist): its export is a 500
    before the first byte."""
    slot = SlotFactory(creator=user)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE slots_slot SET all_day = %s, time_zone = 'Nowhere/Atlantis' WHERE id = %s",
                       [True, slot.pk])


# Which id -------------------------------------------------------------------------------------------


def test_without_proxies_of_ours_every_request_gets_a_new_id_whatever_it_sends(api):
    first = api.post(GOOGLE, HTTP_X_REQUEST_ID=GIVEN)
    second = api.post(GOOGLE, HTTP_X_REQUEST_ID=GIVEN)

    assert MADE.fullmatch(first["X-Request-Id"]) and MADE.fullmatch(second["X-Request-Id"])
    assert first["X-Request-Id"] != second["X-Request-Id"]


def test_behind_a_proxy_of_ours_its_id_is_the_requests(behind_a_proxy):
    response = APIClient().post(GOOGLE, HTTP_X_REQUEST_ID=GIVEN)

    assert response.status_code == 401
    assert response["X-Request-Id"] == GIVEN
    assert response.json() == {"detail": "Authentication credentials were not provided.", "request_id": GIVEN}


def test_behind_a_proxy_of_ours_a_request_without_an_id_gets_one(behind_a_proxy):
    assert MADE.fullmatch(APIClient().post(GOOGLE)["X-Request-Id"])


def test_an_id_of_128_safe_characters_is_taken(behind_a_proxy):
    longest = "a.B-9_" * 21 + "xy"

    assert APIClient().post(GOOGLE, HTTP_X_REQUEST_ID=longest)["X-Request-Id"] == longest


@pytest.mark.parametrize("hostile", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_id_is_replaced_by_one_made_here(behind_a_proxy, console, hostile):
    response = APIClient().post(GOOGLE, HTTP_X_REQUEST_ID=hostile)

    assert MADE.fullmatch(response["X-Request-Id"])
    assert response.json()["request_id"] == response["X-Request-Id"]
    # Each line after its time (a date and a clock).
    assert [line.split(" ", 2)[2] for line in lines_of(console, response["X-Request-Id"])] == [
        f"WARNING django.request [{response['X-Request-Id']}] Unauthorized: {GOOGLE}"
    ]
    if hostile:
        assert hostile not in console.getvalue()


# Every answer -----------------------------------------------------------------------------------------


def answers(api, user, staff_client) -> dict:
    """One answer of each kind, its body read."""
    SlotFactory(creator=user)
    feed = path_of(create(api).json()["url"])
    fetched = APIClient().get(feed)
    b"".join(fetched.streaming_content)
    unauthorized = APIClient()
    unauthorized.credentials(HTTP_AUTHORIZATION="Token token=wrong")
    return {
        "a streamed export": export(api),
        "a feed": fetched,
        "a feed's revalidation (304)": APIClient().get(feed, HTTP_IF_NONE_MATCH=fetched["ETag"]),
        "the feeds' list": api.get("/v1/feeds"),
        "a wrong token (401)": unauthorized.post(GOOGLE),
        "a group not found (404)": api.post(GOOGLE, {"group": "00000000-0000-0000-0000-000000000000"}, format="json"),
        "a path no route takes (404)": api.get("/v1/nowhere"),
        "a method not answered (405)": api.get(GOOGLE),
        "a Host not served (400)": api.post(GOOGLE, HTTP_HOST="elsewhere.example"),
        "a malformed parameter (422)": api.post(GOOGLE, {"group": "x"}, format="json"),
        "an import without a file (400)": api.post("/v1/import", {}, format="multipart"),
        "an import's problems (422)": api.post("/v1/import", {"file": io.BytesIO(b"nothing"), "group": "x"},
                                               format="multipart"),
        "the schema": api.get("/v1/schema/"),
        "the admin's login page": APIClient().get(reverse("admin:login")),
        "an admin page": staff_client.get(reverse("admin:export_exportlog_changelist")),
        "an admin page not found (404)": staff_client.get("/admin/export/exportlog/999999/change/"),
    }


def test_every_answer_says_its_id_and_every_json_error_body_says_the_same(api, user, staff_client):
    made = answers(api, user, staff_client)

    ids = {name: response["X-Request-Id"] for name, response in made.items()}
    assert all(MADE.fullmatch(request_id) for request_id in ids.values()), ids
    assert len(set(ids.values())) == len(ids)
    errors = {name: response for name, response in made.items() if response.status_code >= 400
              and response["Content-Type"] == "application/json"}
    # Every error but the admin's, an HTML page.
    assert set(errors) == {name for name in made if name.endswith(("(400)", "(401)", "(404)", "(405)", "(422)"))} - {
        "an admin page not found (404)"
    }
    for name, response in errors.items():
        assert response.json()["request_id"] == response["X-Request-Id"], name


def test_a_500_says_its_id_in_its_header_its_body_its_log_lines_and_its_export_log_row(api, user, console):
    broken_slot(user)
    api.raise_request_exception = False

    response = api.post(GOOGLE)

    request_id = response["X-Request-Id"]
    assert response.status_code == 500
    assert response.json() == {"error": "Server Error (500)", "request_id": request_id}
    logged = "\n".join(lines_of(console, request_id))
    assert f"ERROR django.request [{request_id}] Internal Server Error: {GOOGLE}" in logged
    assert f"ERROR export.views [{request_id}] Export for user {user.pk}" in logged
    assert ExportLog.objects.get().request_id == request_id


# Log lines and the export log ---------------------------------------------------------------------------


def test_a_line_logged_as_a_streamed_export_ends_says_the_requests_id(settings, api, user, console, behind_a_proxy):
    # Over the budget from its count: the answer starts at the first chunk, and the warning is written at the
    # end of the stream, once the middleware has long returned.
    settings.EXPORT_PART_MAX_BYTES = 100
    SlotFactory.create_batch(3, creator=user)

    response = api.post(GOOGLE, HTTP_X_REQUEST_ID=GIVEN)
    assert not lines_of(console, GIVEN)
    body = b"".join(response.streaming_content)

    (line,) = lines_of(console, GIVEN)
    assert f"WARNING export.views [{GIVEN}] Export for user {user.pk} (group -) sent {len(body)} bytes" in line
    assert ExportLog.objects.get().request_id == GIVEN


def test_a_line_logged_as_the_server_closes_an_answer_its_client_left_says_the_requests_id(
    settings, api, user, console, behind_a_proxy
):
    # Streamed from its first chunk (over the budget from its count); then the cache goes away with the client,
    # and giving the export's place back, as the server closes the answer, logs that it is unreachable.
    settings.EXPORT_PART_MAX_BYTES = 100
    SlotFactory.create_batch(3, creator=user)
    response = api.post(GOOGLE, HTTP_X_REQUEST_ID=GIVEN)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": f"redis://127.0.0.1:{closed_port}/0",
    }}

    hang_up(response)

    (line,) = lines_of(console, GIVEN)
    assert f"ERROR export.throttling [{GIVEN}] The cache is unreachable: ExportPlace.release" in line
    assert list(ExportLog.objects.values_list("status", "request_id")) == [(499, GIVEN)]


def test_a_line_logged_outside_a_request_says_so(api, console):
    logging.getLogger("export.views").warning("Nothing to do with a request.")
    api.post(GOOGLE)
    logging.getLogger("export.views").warning("Nor this.")

    lines = console.getvalue().splitlines()
    assert lines[0].endswith(" WARNING export.views [-] Nothing to do with a request.")
    assert lines[-1].endswith(" WARNING export.views [-] Nor this.")


def test_each_exports_row_says_its_requests_id(api, user, behind_a_proxy):
    SlotFactory(creator=user)

    export(api, HTTP_X_REQUEST_ID="first")
    path = path_of(create(api).json()["url"])
    b"".join(APIClient().get(path, HTTP_X_REQUEST_ID="second").streaming_content)
    api.post("/v1/import", {"file": io.BytesIO(b"nothing")}, format="multipart", HTTP_X_REQUEST_ID="third")

    assert list(ExportLog.objects.order_by("id").values_list("kind", "request_id")) == [
        ("google", "first"), ("feed", "second"), ("import", "third"),
    ]


def test_the_export_log_is_searched_by_a_requests_whole_id(staff_client, api, user):
    SlotFactory(creator=user)
    mine = export(api)["X-Request-Id"]
    export(api)
    url = reverse("admin:export_exportlog_changelist")

    found = staff_client.get(url, {"q": mine})
    partial = staff_client.get(url, {"q": mine[:8]})

    assert [row.request_id for row in found.context["cl"].result_list] == [mine]
    assert list(partial.context["cl"].result_list) == []
    assert mine in found.content.decode()


# Over a real gunicorn -----------------------------------------------------------------------------------

SETUP = """
import json
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from slots.models import Slot
User = get_user_model()
nora, olga = User.objects.create(username="nora"), User.objects.create(username="olga")
for n in range(3):
    Slot.objects.create(creator=nora, title=f"Rehearsal {n}", start=timezone.now())
broken = Slot.objects.create(creator=olga, title="Nowhere", start=timezone.now())
with connection.cursor() as cursor:
    cursor.execute("UPDATE slots_slot SET all_day = %s, time_zone = 'Nowhere/Atlantis' WHERE id = %s",
                   [True, broken.pk])
print(json.dumps({"nora": Token.objects.create(user=nora).key, "olga": Token.objects.create(user=olga).key}), end="")
"""
EXPORT_LOG = """
import json
from export.models import ExportLog
print(json.dumps(list(ExportLog.objects.values("kind", "status", "request_id"))), end="")
"""


@pytest.fixture(scope="module")
def static_root(tmp_path_factory) -> str:
    """The project's static files collected once, as production serves them: the admin's pages name them."""
    env = {**os.environ, **served.production_environment("sqlite:///:memory:")}
    return served.with_static_files(env, tmp_path_factory.mktemp("static") / "files")["STATIC_ROOT"]


@pytest.fixture
def scratch(tmp_path, static_root):
    """Production settings on a scratch SQLite database with SETUP's people, which gunicorn and manage.py share;
    a single calendar is over Google's import budget at 100 bytes."""
    env = {
        **os.environ,
        **served.production_environment(f"sqlite:///{tmp_path}/scratch.sqlite3"),
        "LOG_LEVEL": "INFO",
        "EXPORT_PART_MAX_BYTES": "100",
        "STATIC_ROOT": static_root,
    }
    env.pop("REDIS_URL", None)
    served.run_checked([str(served.BIN / "python"), "manage.py", "migrate", "--noinput"], env)
    return env, json.loads(manage_shell(env, SETUP))


def served_log(log: str, log_format: str) -> list[dict]:
    """The log's lines as records: each a JSON object with LOG_FORMAT=json; in text, the line and the id in its
    brackets (the service's) or at its end (gunicorn's access line)."""
    if log_format == "json":
        return [json.loads(line) for line in log.splitlines()]
    records = []
    for line in log.splitlines():
        found = re.search(r" \[([A-Za-z0-9._-]+)\] ", line) or re.search(r" ([A-Za-z0-9._-]+)$", line)
        records.append({"message": line, "request_id": found and found.group(1)})
    return records


def of_request(records: list[dict], request_id: str) -> list[str]:
    return [record["message"] for record in records if record["request_id"] == request_id]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_behind_a_proxy_a_real_gunicorn_run_ties_each_answer_to_its_lines_and_rows(scratch, tmp_path, log_format):
    env, tokens = scratch
    env = {**env, "NUM_PROXIES": "1", "LOG_FORMAT": log_format}
    with served.gunicorn(env, ["--workers", "1"], log_folder=tmp_path) as server:
        address = ("127.0.0.1", server.port)

        def post(token: str, request_id: str):
            headers = {"Authorization": f"Token token={token}", "X-Request-Id": request_id}
            return fetch(address, "POST", GOOGLE, headers)

        broken = post(tokens["olga"], "broken-1")
        streamed = post(tokens["nora"], "streamed-2")
        refused = post("not-a-key", "refused-3")
        hostile = [post("not-a-key", "x" * 129), post("not-a-key", 'a"b')]
        login = fetch(address, "GET", "/admin/login/", {"X-Request-Id": "admin-4"})
    log = server.log.read_text()
    rows = json.loads(manage_shell(env, EXPORT_LOG))
    records = served_log(log, log_format)

    assert [answer.status for answer in [broken, streamed, refused, *hostile, login]] == [500, 200, 401, 401, 401, 200]
    assert [answer.headers["x-request-id"] for answer in [broken, streamed, refused, login]] == [
        "broken-1", "streamed-2", "refused-3", "admin-4"
    ]
    assert broken.json() == {"error": "Server Error (500)", "request_id": "broken-1"}
    assert refused.json()["request_id"] == "refused-3"
    for answer in hostile:
        assert MADE.fullmatch(answer.headers["x-request-id"])
        assert answer.json()["request_id"] == answer.headers["x-request-id"]
    assert sorted((row["kind"], row["status"], row["request_id"]) for row in rows) == [
        ("google", 200, "streamed-2"), ("google", 500, "broken-1")
    ]

    failed = "\n".join(of_request(records, "broken-1"))
    assert f"Internal Server Error: {GOOGLE}" in failed
    assert "Export for user" in failed and "stopped after 0 bytes" in failed
    # Written as the stream ended, after the service had returned the answer to gunicorn.
    assert any("over the import budget of 100" in line for line in of_request(records, "streamed-2"))
    assert any(f"Unauthorized: {GOOGLE}" in line for line in of_request(records, "refused-3"))
    for answer in [broken, streamed, refused, *hostile, login]:
        # gunicorn's access line.
        lines = of_request(records, answer.headers["x-request-id"])
        assert any(f'HTTP/1.0" {answer.status} ' in line for line in lines)
    if log_format == "json":
        assert {record["level"] for record in records} >= {"INFO", "WARNING", "ERROR"}
        assert all(set(record) >= {"time", "level", "logger", "message", "request_id"} for record in records)
        (error,) = [record for record in records if record["request_id"] == "broken-1" and record["level"] == "ERROR"
                    and record["logger"] == "django.request"]
        assert error["exception"].startswith("Traceback") and "Nowhere/Atlantis" in error["exception"]


def test_without_proxies_a_real_gunicorn_run_makes_its_own_ids(scratch, tmp_path):
    env, tokens = scratch
    env = {**env, "NUM_PROXIES": "0"}
    with served.gunicorn(env, ["--workers", "1"], log_folder=tmp_path) as server:
        answer = fetch(("127.0.0.1", server.port), "POST", GOOGLE,
                       {"Authorization": "Token token=not-a-key", "X-Request-Id": GIVEN})
    log = server.log.read_text()

    request_id = answer.headers["x-request-id"]
    assert MADE.fullmatch(request_id)
    assert answer.json()["request_id"] == request_id
    assert f"WARNING django.request [{request_id}] Unauthorized: {GOOGLE}" in log
    assert GIVEN not in log
