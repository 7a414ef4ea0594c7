"""Hostile input, each case a named test: injection into every text field of every format,
read back with the real parser; another user's group and feed; oversize and malformed input of every
parameter; the Authorization header on every endpoint that takes it.

The hostile cases that live beside the behaviour they guard:
- export/tests/test_api.py: the export's Authorization header (none, empty, other schemes, NUL, non-ASCII,
  64 KB of one character or of separators), an unknown key, an inactive user, a token in the query string
  or body; `group` of a wrong type or malformed (body and query string); a JSON body that is not an
  object; broken JSON; a body over DATA_UPLOAD_MAX_MEMORY_SIZE; a hostile group name in the file name.
- export/tests/test_outlook.py: formula cells, RFC 4180 quoting, any text reads back (hypothesis).
- export/tests/test_feeds.py: a malformed `group` on feed creation, revoked, rotated-away and random
  secrets answering alike, an API token opening no feed, the feed of an inactive user.
- export/tests/test_import_api.py and test_import_*.py: files over the size limit (announced and read),
  too many records, not UTF-8, unknown formats, a malformed `group`, an unknown zone, NUL characters,
  dates at the edge of the calendar, broken files from other calendar programs; a backup naming another
  user's slot and group uuids, answered exactly as uuids that exist nowhere (test_import_json.py).
- slots/tests/test_admin_security.py: the admin (escaping, no way in with a token, CSRF).
- export/tests/test_faults.py: the database gone, a client gone, edits during an export.
- export/tests/test_abuse.py: failed authentications, export rate, concurrent exports and the slot limit,
  on local memory and on Redis; hostile token bytes over real HTTP through gunicorn.
- export/tests/test_schema.py and `make fuzz`: every answer as the OpenAPI schema says, none without a token.
"""
import csv
import io
import json
import logging
import re
import uuid
from urllib.parse import quote, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from bench import served
from export.feeds import create_feed
from export.models import CalendarFeed
from export.tests.ical_reader import parse_calendar
from export.tests.importing import IMPORT, calendar, upload
from fuzz import hostile
from fuzz.run import demo_database, server_environment
from slots.models import Slot
from slots.tests.factories import SlotFactory, SlotGroupFactory, UserFactory

pytestmark = pytest.mark.django_db

FEEDS = "/v1/feeds"
EXPORTS = {"google": "/v1/export/google", "ical": "/v1/export/ical", "outlook": "/v1/export/outlook",
           "timeslot": "/v1/export/timeslot"}
EVENT = "UID:hostile-1@example.com\nSUMMARY:Imported\nDTSTART:20261207T090000Z\nDTEND:20261207T100000Z"


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def json_error(response, detail: str) -> bytes:
    """The bytes of the service's JSON error with this detail, as this answer sends it: with its request id."""
    return b'{"detail":"%s","request_id":"%s"}' % (detail.encode(), response["X-Request-Id"].encode())


def path_of(url: str) -> str:
    return urlsplit(url).path


# Injection into every text field of every format ----------------------------------------------------

PAYLOADS = {
    # Ends a property, an event, the calendar; opens a property; escapes and separators of every format.
    "calendar, csv and json syntax": (
        'x",\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil\r\nEND:VCALENDAR\nATTACH:http://evil;,\\ '
        '"]}, {"uuid": "evil"}\u2028</script>'
    ),
    "a spreadsheet formula": '=HYPERLINK("http://evil","click"),\r\n@SUM(A1)',
}
FIELDS = ["title", "description", "location", "group name"]
FORMATS = ["google", "outlook", "timeslot", "feed"]


def exported(client, fmt: str, group) -> tuple:
    """The group's export in the format: the API's response, or the feed a calendar app fetches."""
    if fmt == "feed":
        url = client.post(FEEDS, {"group": str(group.uuid)}, format="json").json()["url"]
        response = APIClient().get(path_of(url))
    else:
        response = client.post(EXPORTS[fmt], {"group": str(group.uuid)}, format="json")
    assert response.status_code == 200
    return response, body_of(response)


def read_back(fmt: str, body: bytes) -> tuple[object, dict[str, str]]:
    """What the real parser of the format finds: the document's shape (every component, property, row,
    column and key, by name) and the texts of the one slot."""
    if fmt in ("google", "feed"):
        document = parse_calendar(body)
        (event,) = document.walk("VEVENT")
        shape = ([part.name for part in document.walk()], sorted(document), sorted(event))
        texts = {"title": event.get("SUMMARY"), "description": event.get("DESCRIPTION"),
                 "location": event.get("LOCATION"), "group name": document.get("NAME")}
    elif fmt == "outlook":
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
        shape = [len(row) for row in rows], rows[0]
        row = dict(zip(rows[0], rows[1]))
        # The CSV has no group column; the group's name is only in the file name.
        texts = {"title": row["Subject"], "description": row["Description"], "location": row["Location"]}
    else:
        document = json.loads(body)
        (record,) = document["slots"]
        shape = (sorted(document), sorted(record), [sorted(group) for group in record["groups"]])
        texts = {"title": record["title"], "description": record["description"], "location": record["location"],
                 "group name": record["groups"][0]["name"]}
    return shape, {field: None if text is None else str(text) for field, text in texts.items()}


def as_written(fmt: str, text: str) -> str:
    """The text as the format holds it: iCalendar writes a line break as \\n (RFC 5545, 3.3.11), and so
    Unicode's line separator; the CSV guards a cell a spreadsheet would evaluate with a leading quote
    (docs/formats.md)."""
    if fmt in ("google", "feed"):
        return text.replace("\r\n", "\n").replace("\u2028", "\n")
    if fmt == "outlook" and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_text_in_any_field_of_any_format_reads_back_as_the_same_text_and_nothing_more(
    api, user, fmt, field, payload
):
    hostile = PAYLOADS[payload]
    group = SlotGroupFactory(owner=user, name="Team")
    slot = SlotFactory(creator=user, groups=[group], title="Plain", description="Plain", location="Plain")
    plain_shape, _ = read_back(fmt, exported(api, fmt, group)[1])

    if field == "group name":
        group.name = hostile
        group.save()
    else:
        Slot.objects.filter(pk=slot.pk).update(**{field: hostile})
    response, body = exported(api, fmt, group)

    shape, texts = read_back(fmt, body)
    assert shape == plain_shape
    if field in texts:
        assert texts[field] == as_written(fmt, hostile)
    if fmt != "feed":
        assert re.fullmatch(r'attachment; filename="Timeslot-Export-[a-z0-9-]+\.(ical|csv|json)"',
                            response["Content-Disposition"])


# Another user's group and feed ----------------------------------------------------------------------


def with_group(api, endpoint: str, group: str):
    """A request of the endpoint naming the group; nothing else in it would fail."""
    if endpoint == "import":
        return upload(api, calendar(EVENT), group=group)
    path = FEEDS if endpoint == "feed creation" else EXPORTS[endpoint]
    return api.post(path, {"group": group}, format="json")


@pytest.mark.parametrize("endpoint", [*EXPORTS, "feed creation", "import"])
def test_another_users_group_answers_exactly_like_a_missing_one_and_changes_nothing(api, endpoint):
    stranger_group = SlotGroupFactory()
    SlotFactory(creator=stranger_group.owner, groups=[stranger_group])

    foreign = with_group(api, endpoint, str(stranger_group.uuid))
    missing = with_group(api, endpoint, str(uuid.uuid4()))

    assert foreign.status_code == missing.status_code == 404
    assert foreign["Content-Type"] == missing["Content-Type"] == "application/json"
    # The same bytes, but for each answer's own request id.
    assert body_of(foreign) == json_error(foreign, "Slot group not found.")
    assert body_of(missing) == json_error(missing, "Slot group not found.")
    assert not CalendarFeed.objects.exists()
    assert Slot.objects.count() == 1


def test_another_users_feed_cannot_be_listed_rotated_revoked_or_fetched_by_its_id(api, client_for):
    created = api.post(FEEDS, {}, format="json").json()
    feed = CalendarFeed.objects.get()
    stranger = client_for(UserFactory())

    assert stranger.get(FEEDS).json() == []
    assert stranger.post(f"{FEEDS}/{feed.uuid}/rotate").status_code == 404
    assert stranger.delete(f"{FEEDS}/{feed.uuid}").status_code == 404
    assert APIClient().get(f"{FEEDS}/{feed.uuid}.ics").status_code == 404
    own = APIClient().get(path_of(created["url"]))
    assert own.status_code == 200 and body_of(own).endswith(b"END:VCALENDAR\r\n")


# Malformed and oversize parameters --------------------------------------------------------------------

MALFORMED_GROUPS = {
    "10 KB": "a" * 10240,
    "NUL": "\x00",
    "a uuid and a NUL": "5f0c1a52-8d1e-4c55-9a3e-2b7f4f3c9d01\x00",
    "non-ASCII": "ünïcödé-5f0c1a52",
    "a path": "../../etc/passwd",
}


def group_request(api, where: str, value):
    if where == "import":
        return upload(api, calendar(EVENT), group=value)
    path = FEEDS if where.startswith("feed") else EXPORTS["google"]
    if where.endswith("query string"):
        return api.post(f"{path}?group={quote(value)}", b"", content_type="application/json")
    return api.post(path, {"group": value}, format="json" if where.endswith("json") else "multipart")


@pytest.mark.parametrize("value", MALFORMED_GROUPS)
@pytest.mark.parametrize("where", ["export json", "export form", "export query string", "feed creation json",
                                   "feed creation form", "feed creation query string", "import"])
def test_a_malformed_group_anywhere_is_422_naming_it_and_changes_nothing(api, where, value):
    response = group_request(api, where, MALFORMED_GROUPS[value])

    assert response.status_code == 422
    assert response["Content-Type"] == "application/json"
    body = response.json()
    named = [problem["where"] for problem in body["problems"]] if where == "import" else list(body)[:-1]
    assert named == ["group"]
    assert list(body)[-1] == "request_id"
    assert not CalendarFeed.objects.exists() and not Slot.objects.exists()


@pytest.mark.parametrize("value", [{"a": 1}, 1.5, True, None, ""])
def test_a_group_of_any_other_json_type_is_422_on_feed_creation(api, value):
    response = api.post(FEEDS, {"group": value}, format="json")

    assert response.status_code == 422
    assert list(response.json()) == ["group", "request_id"]
    assert not CalendarFeed.objects.exists()


@pytest.mark.parametrize("body, status", [(b"[]", 422), (b'"group"', 422), (b"42", 422), (b"{", 400),
                                          (b'{"group": }', 400), (b"\xff\xfe", 400)])
def test_a_feed_creation_body_that_is_not_a_json_object_is_refused_in_json(api, body, status):
    response = api.post(FEEDS, body, content_type="application/json")

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert not CalendarFeed.objects.exists()


def test_fields_a_client_should_not_set_are_ignored_on_feed_creation(api, user):
    stranger = UserFactory()
    chosen_id = uuid.uuid4()

    response = api.post(FEEDS, {"owner": stranger.pk, "id": str(chosen_id), "uuid": str(chosen_id),
                                "secret_hash": "0" * 64, "url": "http://evil.example/"}, format="json")

    assert response.status_code == 201
    feed = CalendarFeed.objects.get()
    assert feed.owner == user and feed.uuid != chosen_id and feed.secret_hash != "0" * 64
    assert response.json()["url"].startswith("http://testserver/v1/feeds/")


def test_fields_a_client_should_not_set_are_ignored_on_import(api, user):
    stranger = UserFactory()

    response = upload(api, calendar(EVENT), creator=str(stranger.pk), user=str(stranger.pk))

    assert response.status_code == 200
    assert Slot.objects.get().creator == user


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), b"PK\x03\x04" + b"\x00" * 64,
                                     b"[]", b"null", b"\x00" * 100],
                         ids=["empty", "an image", "a zip", "a json array", "json null", "NUL bytes"])
def test_an_import_file_of_the_wrong_type_is_422_and_writes_nothing(api, content):
    response = upload(api, content)

    assert response.status_code == 422
    assert response["Content-Type"] == "application/json"
    assert response.json()["problems"]
    assert not Slot.objects.exists()


def test_an_import_file_sent_as_a_plain_field_is_400(api):
    response = api.post(IMPORT, {"file": calendar(EVENT)}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"file": ["No file was submitted."], "request_id": response["X-Request-Id"]}


@pytest.mark.parametrize("zone", ["a" * 10240, "UTC\x00", "../../etc/localtime", "/etc/passwd", "Éurope/Bérlin"],
                         ids=["10 KB", "NUL", "a relative path", "an absolute path", "non-ASCII"])
def test_a_malformed_import_time_zone_is_422_naming_it_and_writes_nothing(api, zone):
    response = upload(api, calendar(EVENT), time_zone=zone)

    assert response.status_code == 422
    [problem] = response.json()["problems"]
    assert problem["where"] == "time_zone"
    # It names the zone as far as anyone needs to find it, never the whole of a hostile one (a NUL is refused
    # before the zone is read: "Null characters are not allowed.").
    assert repr(zone)[:40] in problem["problem"] or "\x00" in zone
    assert len(problem["problem"]) < 150
    assert not Slot.objects.exists()


def test_a_hostile_value_in_a_file_is_quoted_short_in_the_problems(api):
    slot = {"uuid": str(uuid.uuid4()), "title": "t", "description": "", "location": "", "visibility": "public",
            "start": "2026-01-05T09:00:00Z", "end": None, "all_day": False, "time_zone": "z" * 10240,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z", "groups": []}
    backup = {"format": "timeslot-export", "version": 1, "exported_at": "2026-01-01T00:00:00Z", "slots": [slot] * 150}

    response = upload(api, json.dumps(backup).encode(), name="backup.json")

    assert response.status_code == 422
    problems = response.json()["problems"]
    assert len(problems) == 100
    assert "'zzzz" in problems[0]["problem"] and "…" in problems[0]["problem"]
    assert max(len(problem["problem"]) for problem in problems) < 200
    assert not Slot.objects.exists()


@pytest.mark.parametrize("path", [f"{FEEDS}/{'A' * 10240}.ics", f"{FEEDS}/%00.ics", f"{FEEDS}/%C3%BC%C3%B1.ics",
                                  f"{FEEDS}/..%2F..%2Fetc%2Fpasswd.ics", f"{FEEDS}/a.ics.ics"],
                         ids=["10 KB", "NUL", "non-ASCII", "a path", "two extensions"])
def test_a_malformed_feed_secret_is_404_in_json(path):
    response = APIClient().get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert body_of(response) == json_error(response, "Not found.")


@pytest.mark.parametrize("method, path", [("post", f"{FEEDS}/not-a-uuid/rotate"), ("delete", f"{FEEDS}/{'1' * 10240}"),
                                          ("delete", f"{FEEDS}/%00"), ("post", "/v1/export/nothing")])
def test_a_path_no_api_route_takes_is_404_in_json(api, method, path):
    response = getattr(api, method)(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "request_id": response["X-Request-Id"]}


# Bodies too deep or too many, a wrong Host: a JSON 4xx and one warning line ------------------------------

DEEP_BODIES = {
    "100,000 [": "[" * 100_000,
    "nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "a 5,000-digit integer": '{"group": ' + "7" * 5_000 + "}",
}


def warning_lines(caplog) -> list[tuple[str, str]]:
    """The logger and message of each record at WARNING or above, each a line of its own without a traceback."""
    logged = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert all(record.exc_info is None and "\n" not in record.getMessage() for record in logged)
    return [(record.name, record.getMessage()) for record in logged]


@pytest.mark.parametrize("body", DEEP_BODIES)
@pytest.mark.parametrize("path", [*EXPORTS.values(), FEEDS])
def test_a_json_body_too_deep_or_with_a_5000_digit_integer_is_400_in_json_with_one_warning_line(
    api, caplog, path, body
):
    response = api.post(path, DEEP_BODIES[body], content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"] in ("JSON parse error - nested deeper than 32 levels",
                                         "JSON parse error - an integer of more than 100 digits")
    assert warning_lines(caplog) == [("django.request", f"Bad Request: {path}")]
    assert not CalendarFeed.objects.exists()


def crowded(count: int, kind: str):
    if kind == "form fields":
        return "&".join(f"field{number}=1" for number in range(count)), {
            "content_type": "application/x-www-form-urlencoded"}
    if kind == "multipart parts":
        return {f"field{number}": "1" for number in range(count)}, {"format": "multipart"}
    return {f"file{number}": SimpleUploadedFile(f"{number}.ics", calendar(EVENT).encode())
            for number in range(count)}, {"format": "multipart"}


@pytest.mark.parametrize("path, count, kind, refused", [
    (EXPORTS["google"], 1_100, "form fields", ("TooManyFieldsSent", "1,000 fields")),
    (EXPORTS["google"], 1_500, "multipart parts", ("TooManyFieldsSent", "1,000 fields")),
    (FEEDS, 1_100, "form fields", ("TooManyFieldsSent", "1,000 fields")),
    (IMPORT, 1_500, "multipart parts", ("TooManyFieldsSent", "1,000 fields")),
    (IMPORT, 150, "files", ("TooManyFilesSent", "100 files")),
])
def test_more_fields_or_files_than_django_reads_is_400_in_json_with_one_warning_line(
    api, caplog, path, count, kind, refused
):
    data, how = crowded(count, kind)
    exception, limit = refused

    response = api.post(path, data, **how)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": f"The request has more than {limit}, the most this service reads."}
    [(logger, message)] = warning_lines(caplog)
    assert logger == f"django.security.{exception}"
    assert message.startswith(f"POST {path}: The number of ")
    assert not Slot.objects.exists() and not CalendarFeed.objects.exists()


@pytest.mark.parametrize("path", [FEEDS, EXPORTS["google"], "/v1/docs/", "/v1/nothing"])
def test_a_host_the_service_does_not_answer_to_is_400_in_json_with_one_warning_line(api, caplog, path):
    response = api.get(path, HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": "The Host header names no host this service answers to.", "request_id": response["X-Request-Id"]
    }
    assert warning_lines(caplog) == [("django.security.DisallowedHost", (
        "Invalid HTTP_HOST header: 'evil.example'. You may need to add 'evil.example' to ALLOWED_HOSTS."))]


def test_a_wrong_host_names_no_feed_secret_in_the_log(user, caplog):
    _, secret = create_feed(owner=user, group=None)

    response = APIClient().get(f"{FEEDS}/{secret}.ics", HTTP_HOST="evil.example\nFORGED")

    assert response.status_code == 400
    [(_, message)] = warning_lines(caplog)
    assert secret not in message and "\\nFORGED" in message


def test_outside_the_api_a_wrong_host_keeps_djangos_page_with_one_warning_line(client, caplog):
    response = client.get("/admin/login/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert [logger for logger, _ in warning_lines(caplog)] == ["django.security.DisallowedHost"]


def test_over_real_http_every_hostile_request_is_a_json_4xx_with_at_most_one_warning_line(tmp_path):
    # fuzz/hostile.py's requests, which `make fuzz` sends too, to gunicorn as in production (DEBUG=0).
    environment = server_environment(f"sqlite:///{tmp_path / 'hostile.sqlite3'}")
    environment.pop("REDIS_URL", None)
    token = demo_database(environment)

    with served.gunicorn(environment, ["--workers", "1"], log_folder=tmp_path) as server:
        assert hostile.failures(server.url, f"Token token={token}", server.log) == []
        # Read before the server stops: a worker stopped mid-write logs the signal's traceback.
        assert "Traceback" not in server.log.read_text()


# The Authorization header on every endpoint --------------------------------------------------------------

TOKEN_ENDPOINTS = {
    "export": ("post", EXPORTS["google"]),
    "import": ("post", IMPORT),
    "feed list": ("get", FEEDS),
    "feed creation": ("post", FEEDS),
    "feed rotation": ("post", f"{FEEDS}/{uuid.UUID(int=1)}/rotate"),
    "feed revocation": ("delete", f"{FEEDS}/{uuid.UUID(int=1)}"),
}
HEADERS = {
    "NUL": "Token token={key}\x00",
    "non-ASCII": "Token tökén",
    "64 KB": "Token " + "a" * 65536,
    "separators": ", ; = \" " * 8192,
    "a deleted token": "Token token={key}",
    "an inactive user": "Token token={key}",
}


@pytest.mark.parametrize("case", HEADERS)
@pytest.mark.parametrize("endpoint", TOKEN_ENDPOINTS)
def test_a_hostile_or_dead_credential_is_401_on_every_endpoint(user, token, endpoint, case):
    method, path = TOKEN_ENDPOINTS[endpoint]
    header = HEADERS[case].format(key=token.key)
    if case == "a deleted token":
        Token.objects.filter(pk=token.pk).delete()
    if case == "an inactive user":
        user.is_active = False
        user.save()

    response = getattr(APIClient(), method)(path, HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("endpoint", [name for name in TOKEN_ENDPOINTS if name != "export"])
def test_a_token_in_the_query_string_or_body_opens_no_endpoint(token, endpoint):
    method, path = TOKEN_ENDPOINTS[endpoint]
    client = APIClient()

    in_query = getattr(client, method)(f"{path}?token={token.key}&auth_token={token.key}")
    in_body = getattr(client, method)(path, {"token": token.key, "Authorization": f"Token {token.key}"},
                                      format="multipart")

    assert in_query.status_code == in_body.status_code == 401
