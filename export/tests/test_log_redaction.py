"""No log line names a feed secret or an API token: the log of a real gunicorn run (the service's lines
and gunicorn's own, as text and as JSON lines), and the redaction every handler applies (timeslot/logs.py).

A feed's path is its secret, and a line written while it did not work (a throttled address, an owner
briefly out of the feed's group) would name a secret that works again later.
"""
import io
import json
import logging
import os
import runpy
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import RequestFactory
from rest_framework.test import APIClient

from bench import served
from export.models import ExportLog
from export.tests.test_faults import fetch
from slots.tests.factories import SlotFactory
from timeslot.log_lines import JSONLines
from timeslot.logs import MASK, RedactSecrets, redacted

FEEDS = "/v1/feeds"
GOOGLE = "/v1/export/google"
SECRET = "Jq3vX0b9Zt7mW2kLpR5sYd8fHc1nA4eG6uTiOoBxQyE"
KEY = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"

# The scratch database's people: nora, with a token and a slot in olga's group "Choir", of which she is a member.
SETUP = """
import json
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token
from slots.models import Slot, SlotGroup
User = get_user_model()
nora, olga = User.objects.create(username="nora"), User.objects.create(username="olga")
choir = SlotGroup.objects.create(name="Choir", owner=olga)
choir.members.add(nora)
Slot.objects.create(creator=nora, title="Rehearsal", start=timezone.now()).groups.add(choir)
print(json.dumps({"key": Token.objects.create(user=nora).key, "choir": str(choir.uuid)}), end="")
"""
MEMBERSHIP = """
from django.contrib.auth import get_user_model
from slots.models import SlotGroup
getattr(SlotGroup.objects.get(name="Choir").members, "{change}")(get_user_model().objects.get(username="nora"))
"""
EXPORT_LOG = """
from export.models import ExportLog
print(list(ExportLog.objects.values()))
"""


def manage_shell(env: dict, code: str) -> str:
    return served.run_checked([str(served.BIN / "python"), "manage.py", "shell", "--no-imports", "-c", code], env)


@pytest.fixture
def scratch(tmp_path):
    """Production settings on a scratch SQLite database with SETUP's people, which gunicorn and manage.py share;
    a failed-authentication rate of 2 a minute, counted in the memory of gunicorn's one worker."""
    env = {
        **os.environ,
        **served.production_environment(f"sqlite:///{tmp_path}/scratch.sqlite3"),
        "THROTTLE_FAILED_AUTH_RATE": "2/min",
        "LOG_LEVEL": "INFO",
    }
    env.pop("REDIS_URL", None)
    served.run_checked([str(served.BIN / "python"), "manage.py", "migrate", "--noinput"], env)
    return env, json.loads(manage_shell(env, SETUP))


def readable(log: str, log_format: str) -> str:
    """The log as its lines say it: of JSON lines, each message and traceback, the quotes unescaped."""
    if log_format == "text":
        return log
    records = [json.loads(line) for line in log.splitlines()]
    return "\n".join(record["message"] + "\n" + record.get("exception", "") for record in records)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_line_of_a_real_gunicorn_run_names_a_feed_secret_or_a_token(scratch, tmp_path, log_format):
    env, people = scratch
    env = {**env, "LOG_FORMAT": log_format}
    authorization = {"Authorization": f"Token token={people['key']}", "Content-Type": "application/json"}
    with served.gunicorn(env, ["--workers", "1"], log_folder=tmp_path) as server:
        address = ("127.0.0.1", server.port)
        own = urlsplit(fetch(address, "POST", FEEDS, authorization, b"{}").json()["url"]).path
        choir_body = json.dumps({"group": people["choir"]}).encode()
        choir = urlsplit(fetch(address, "POST", FEEDS, authorization, choir_body).json()["url"]).path
        answers = [fetch(address, "GET", own)]

        manage_shell(env, MEMBERSHIP.format(change="remove"))
        answers.append(fetch(address, "GET", choir))
        manage_shell(env, MEMBERSHIP.format(change="add"))
        answers.append(fetch(address, "GET", choir))
        # A token in the query string is never read, and never written either.
        answers.append(fetch(address, "POST", f"{GOOGLE}?token={people['key']}"))
        answers.append(fetch(address, "POST", GOOGLE, {"Authorization": f"Token token={KEY}"}))
        # The address's second failure: from now on even a working secret is refused.
        answers.append(fetch(address, "GET", own))
        # gunicorn refuses a header with a NUL byte, and a request line with a control character, before the
        # service sees them; it writes the line in its error log.
        answers.append(fetch(address, "POST", GOOGLE, {"Authorization": f"Token token={people['key']}\x00"}))
        malformed = fetch(address, "GET", f"{own}\x01")
    written_log = server.log.read_text()
    log = readable(written_log, log_format)
    export_log = manage_shell(env, EXPORT_LOG)

    assert [answer.status for answer in [*answers, malformed]] == [200, 404, 200, 401, 401, 429, 400, 400]
    secrets = [Path(own).stem, Path(choir).stem, people["key"], KEY]
    for secret in secrets:
        assert secret not in written_log
        assert secret not in log
        assert secret not in export_log
        assert not any(secret.encode() in answer.body for answer in answers)
    # gunicorn's own 400 page quotes a malformed request line back to the client that sent it, and to no one else.
    assert Path(own).stem.encode() in malformed.body
    assert f"Invalid HTTP request line: 'GET {FEEDS}/{MASK}" in log
    assert f"Not Found: {FEEDS}/{MASK}.ics" in log
    assert f"Too Many Requests: {FEEDS}/{MASK}.ics" in log
    assert f"Unauthorized: {GOOGLE}" in log
    # gunicorn's access log: the path, masked, and never the query string.
    assert f'"GET {FEEDS}/{MASK}.ics HTTP/1.0" 429' in log
    assert f'"POST {GOOGLE} HTTP/1.0" 401' in log


# The handlers -----------------------------------------------------------------------------------------


def gunicorn_logger(options: list[str]):
    """gunicorn's logger as it sets it up from gunicorn.conf.py and these command-line options on top."""
    from gunicorn.config import Config

    config = Config()
    for name, value in runpy.run_path(str(served.CONFIG)).items():
        if name in config.settings:
            config.set(name, value)
    for name, value in vars(config.parser().parse_args(options)).items():
        if value is not None and name != "args":
            config.set(name, value)
    return config.logger_class(config)


def test_every_handler_of_the_service_redacts_what_it_writes():
    assert settings.LOGGING["filters"]["redact_secrets"] == {"()": "timeslot.logs.RedactSecrets"}
    assert all("redact_secrets" in handler["filters"] for handler in settings.LOGGING["handlers"].values())


def test_gunicorns_log_files_named_on_the_command_line_are_redacted_too(tmp_path):
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    logger = gunicorn_logger(["--access-logfile", str(access), "--error-logfile", str(errors)])

    logger.access_log.info('"%(r)s" %(s)s', {"r": f"GET {FEEDS}/{SECRET}.ics HTTP/1.1", "s": 429})
    logger.error("Error handling request %s %s", "GET", f"{FEEDS}/{SECRET}.ics?token={KEY}")
    for log in (logger.error_log, logger.access_log):
        # gunicorn's own, which it marks so.
        for handler in [handler for handler in log.handlers if getattr(handler, "_gunicorn", False)]:
            log.removeHandler(handler)
            handler.close()

    assert access.read_text() == f'"GET {FEEDS}/{MASK}.ics HTTP/1.1" 429\n'
    assert errors.read_text().endswith(f"Error handling request GET {FEEDS}/{MASK}.ics?token={MASK}\n")


def written(record: logging.LogRecord, format: str | logging.Formatter = "%(message)s") -> str:
    """What a handler with the redaction and this format (or formatter) writes of the record."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(format if isinstance(format, logging.Formatter) else logging.Formatter(format))
    handler.addFilter(RedactSecrets())
    handler.handle(record)
    return stream.getvalue()


def test_djangos_request_line_and_the_request_it_attaches_are_masked():
    request = RequestFactory().get(f"{FEEDS}/{SECRET}.ics")
    record = logging.makeLogRecord({"msg": "%s: %s", "args": ("Too Many Requests", request.path), "request": request})

    line = written(record, "%(message)s %(request)s")

    assert SECRET not in line
    assert line == f"Too Many Requests: {FEEDS}/{MASK}.ics <WSGIRequest: GET '{FEEDS}/{MASK}.ics'>\n"


def test_gunicorns_raw_request_line_is_masked_in_any_access_log_format():
    atoms = {"r": f"GET {FEEDS}/{SECRET}.ics?token={KEY} HTTP/1.1", "{authorization}i": f"Token {KEY}"}
    record = logging.makeLogRecord({"msg": '"%(r)s" "%({authorization}i)s"', "args": atoms})

    assert written(record) == f'"GET {FEEDS}/{MASK}.ics?token={MASK} HTTP/1.1" "Token {MASK}"\n'


@pytest.mark.parametrize("text, shown", [
    (f"Authorization: Token token={KEY}", f"Authorization: {MASK}"),
    (f"{{'HTTP_AUTHORIZATION': 'Token token=\"{KEY}\"'}}", f"{{'HTTP_AUTHORIZATION': '{MASK}'}}"),
    (f"Token token={KEY}", f"Token token={MASK}"),
    (f"Token {KEY}", f"Token {MASK}"),
    # GET /metrics takes a bearer token (METRICS_TOKEN).
    (f"Authorization: Bearer {KEY}", f"Authorization: {MASK}"),
    (f"{{'HTTP_AUTHORIZATION': 'Bearer {KEY}'}}", f"{{'HTTP_AUTHORIZATION': '{MASK}'}}"),
    (f"Bearer {KEY}", f"Bearer {MASK}"),
    (f"/v1/import?access_token={KEY}&group=1", f"/v1/import?access_token={MASK}&group=1"),
    (f"https://export.example.org/v1/feeds/{SECRET}.ics", f"https://export.example.org/v1/feeds/{MASK}.ics"),
    # A mistyped feed URL (its .ics left off, something after it) may be a letter away from a working one.
    (f"Not Found: /v1/feeds/{SECRET}", f"Not Found: /v1/feeds/{MASK}"),
    (f"Not Found: /v1/feeds/{SECRET}.ics/", f"Not Found: /v1/feeds/{MASK}.ics/"),
    # A feed's id is no credential; the prose of a message stays as it is.
    ("/v1/feeds/0b7f6c52-3f0a-4d3e-9c41-5a2b7e8d9f10/rotate", "/v1/feeds/0b7f6c52-3f0a-4d3e-9c41-5a2b7e8d9f10/rotate"),
    ("Invalid token header. No credentials provided.", "Invalid token header. No credentials provided."),
])
def test_tokens_and_feed_secrets_are_masked_wherever_they_stand(text, shown):
    assert redacted(text) == shown


def test_a_traceback_naming_a_secret_is_masked():
    try:
        raise ValueError(f"no route for /v1/feeds/{SECRET}.ics with Token {KEY}")
    except ValueError as error:
        record = logging.makeLogRecord({"msg": "Internal Server Error: %s", "args": (f"/v1/feeds/{SECRET}.ics",),
                                        "exc_info": (type(error), error, error.__traceback__)})

    line = written(record)

    assert SECRET not in line and KEY not in line
    assert f"ValueError: no route for /v1/feeds/{MASK}.ics with Token {MASK}" in line


def test_a_json_line_is_masked_as_a_text_line_is():
    try:
        raise ValueError(f"no route for /v1/feeds/{SECRET}.ics with Token {KEY}")
    except ValueError as error:
        record = logging.makeLogRecord({"msg": "Internal Server Error: %s", "args": (f"/v1/feeds/{SECRET}.ics",),
                                        "exc_info": (type(error), error, error.__traceback__), "levelname": "ERROR"})

    line = written(record, JSONLines())

    assert SECRET not in line and KEY not in line
    (parsed,) = [json.loads(text) for text in line.splitlines()]
    assert parsed["message"] == f"Internal Server Error: /v1/feeds/{MASK}.ics"
    assert parsed["exception"].startswith("Traceback")
    assert parsed["exception"].endswith(f"ValueError: no route for /v1/feeds/{MASK}.ics with Token {MASK}")


def test_a_message_whose_arguments_do_not_fit_is_written_redacted_and_the_caller_goes_on():
    record = logging.makeLogRecord({"msg": "%s and %s", "args": (f"/v1/feeds/{SECRET}.ics",)})

    line = written(record)

    assert SECRET not in line
    assert f"/v1/feeds/{MASK}.ics" in line


@pytest.mark.django_db
def test_the_export_log_row_of_a_feed_fetch_holds_no_secret(user, token):
    SlotFactory(creator=user)
    url = APIClient().post(FEEDS, {}, format="json", HTTP_AUTHORIZATION=f"Token {token.key}").json()["url"]
    response = APIClient().get(urlsplit(url).path)
    b"".join(response.streaming_content)
    secret = Path(urlsplit(url).path).stem

    (row,) = ExportLog.objects.values()

    assert row["kind"] == ExportLog.Kind.FEED
    assert not any(secret in str(value) or token.key in str(value) for value in row.values())
