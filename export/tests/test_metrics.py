"""GET /metrics: who may read it, and that what it counts is what happened, read back with prometheus-client's
own parser of the text format: here in one process, and over real gunicorn workers whose counts add up."""
import logging
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from bench import served
from conftest import REDIS_URL
from export.models import ExportLog
from export.tests.importing import calendar, upload
from export.tests.test_abuse import ATTACKER, UNKNOWN_KEY, export, fail_authentication, feed_path, post, with_rates
from export.tests.test_api import streams_from_its_first_chunk
from export.tests.test_export_log import hang_up
from export.tests.test_faults import PATIENCE
from export.tests.test_faults import fetch as over_http
from export.tests.test_feeds import fetch
from export.tests.test_log_redaction import manage_shell
from slots.tests.factories import SlotFactory
from slots.tests.test_admin_login import log_in

pytestmark = pytest.mark.django_db

TOKEN = "metrics-3Qb8vKx1TzR7nW0pLmYc"
EXPORTS = ("google", "ical", "outlook", "timeslot")


@pytest.fixture(autouse=True)
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(token: str = TOKEN, client=None) -> dict:
    """Every sample /metrics shows, by name and labels, as prometheus-client's parser reads the text."""
    response = (client or Client()).get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return samples_of(response.content.decode())


def samples_of(text: str) -> dict:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def counted(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


class Since:
    """What the metrics counted since it was made: they are the process's, and the tests before counted too."""

    def __init__(self):
        self.before = scrape()

    def __call__(self, name: str, **labels) -> float:
        return counted(scrape(), name, **labels) - counted(self.before, name, **labels)


# Who may read them -----------------------------------------------------------------------------------------


def test_without_a_metrics_token_the_path_is_not_there(settings):
    assert scrape()
    settings.METRICS_TOKEN = ""

    response = Client().get("/metrics", headers={"Authorization": "Bearer "})

    assert response.status_code == 404
    assert response.content == Client().get("/nothing-here").content


@pytest.mark.parametrize("authorization, error", [
    (None, None),
    (f"Token {TOKEN}", None),
    (f"Bearer {TOKEN}x", "invalid_token"),
    (f"Bearer {TOKEN[:-1]}", "invalid_token"),
    ("Bearer tökén", "invalid_token"),
    ("Bearer", "invalid_token"),
])
def test_a_missing_or_wrong_token_is_401_in_json_with_the_bearer_challenge(authorization, error):
    headers = {"Authorization": authorization} if authorization is not None else {}

    response = Client().get("/metrics", headers=headers)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["request_id"] == response["X-Request-Id"]
    assert set(response.json()) == {"detail", "request_id"}
    expected = 'Bearer realm="metrics"' + (f', error="{error}"' if error else "")
    assert response["WWW-Authenticate"] == expected
    assert b"timeslot_" not in response.content


def test_wrong_tokens_count_as_failed_authentications_of_the_address(settings):
    with_rates(settings, failed_authentication="2/min")
    guesser = Client(REMOTE_ADDR=ATTACKER)
    for guess in ("a", "b"):
        assert guesser.get("/metrics", headers={"Authorization": f"Bearer {guess}"}).status_code == 401

    refused = guesser.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert b"timeslot_" not in refused.content
    # Another address still reads them.
    scrape()


def test_the_token_is_never_logged(caplog):
    with caplog.at_level(logging.DEBUG):
        Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}-wrong"})
        scrape()

    assert caplog.records
    assert TOKEN not in caplog.text


def test_only_get_and_head_are_answered():
    authorization = {"Authorization": f"Bearer {TOKEN}"}

    assert Client().head("/metrics", headers=authorization).status_code == 200
    assert Client().post("/metrics", headers=authorization).status_code == 405


# What they count ---------------------------------------------------------------------------------------


def test_each_export_counts_by_kind_and_status_with_the_bytes_its_log_row_says(api, user):
    SlotFactory.create_batch(3, creator=user)
    since = Since()

    bodies = {kind: export(f"/v1/export/{kind}", client=api).body for kind in EXPORTS}
    bodies["google"] += export(client=api).body

    rows = ExportLog.objects.all()
    assert sorted(rows.values_list("kind", "status")) == sorted((kind, 200) for kind in [*EXPORTS, "google"])
    for kind, body in bodies.items():
        assert since("timeslot_exports_total", kind=kind, status="200") == (2 if kind == "google" else 1)
        assert since("timeslot_export_bytes_total", kind=kind) == len(body)
        assert since("timeslot_export_bytes_total", kind=kind) == sum(row.bytes for row in rows if row.kind == kind)
    assert since("timeslot_export_duration_seconds_count", kind="google") == 2
    assert since("timeslot_export_duration_seconds_count", kind="outlook") == 1
    assert since("timeslot_export_duration_seconds_sum", kind="outlook") > 0


def test_every_feed_fetch_counts_by_status_also_those_the_log_leaves_out(settings, user, token):
    with_rates(settings, feed_fetch="4/min")
    SlotFactory.create_batch(2, creator=user)
    path = feed_path(token)
    since = Since()

    first = fetch(path)
    again = fetch(path)
    revalidated = fetch(path, If_None_Match=first["ETag"])
    unknown = fetch(f"/v1/feeds/{uuid.uuid4().hex}.ics")
    head = fetch(path, method="head")
    throttled = fetch(path)

    answers = [first, again, revalidated, unknown, head, throttled]
    assert [answer.status_code for answer in answers] == [200, 200, 304, 404, 200, 429]
    for status, count in Counter(answer.status_code for answer in answers).items():
        assert since("timeslot_feed_fetches_total", status=str(status)) == count
    # Of one feed's fetches in an interval the log keeps the first; the metrics count all that sent a calendar or
    # answered it unchanged (the 404 and 429 are fetches, not exports).
    assert ExportLog.objects.filter(kind="feed").count() == 1
    assert since("timeslot_exports_total", kind="feed", status="200") == 3
    assert since("timeslot_exports_total", kind="feed", status="304") == 1
    assert since("timeslot_export_bytes_total", kind="feed") == len(first.body) + len(again.body)
    assert since("timeslot_throttled_total", scope="feed_fetch") == 1


def test_imports_count_their_outcome_and_what_became_of_their_slots(settings, api):
    with_rates(settings, export="4/min")
    two = calendar("UID:a\nSUMMARY:a\nDTSTART:20261207T090000Z", "UID:b\nSUMMARY:b\nDTSTART:20261208T090000Z")
    one_changed = two.replace("SUMMARY:b", "SUMMARY:B")
    since = Since()

    answers = [upload(api, two), upload(api, one_changed), upload(api, "not a calendar"), upload(api, two),
               upload(api, two)]

    assert [answer.status_code for answer in answers] == [200, 200, 422, 200, 429]
    assert since("timeslot_imports_total", outcome="ok") == 3
    assert since("timeslot_imports_total", outcome="rejected") == 2
    assert since("timeslot_imported_slots_total", result="created") == 2
    assert since("timeslot_imported_slots_total", result="updated") == 1 + 1
    assert since("timeslot_imported_slots_total", result="unchanged") == 1 + 1
    assert since("timeslot_exports_total", kind="import", status="422") == 1
    assert since("timeslot_exports_total", kind="import", status="429") == 1
    # The files received; the refused one was never read.
    assert since("timeslot_export_bytes_total", kind="import") == 3 * len(two) + len("not a calendar")
    assert since("timeslot_throttled_total", scope="export") == 1


def test_each_limits_refusal_counts_under_its_scope(settings, user, token):
    with_rates(settings, failed_authentication="3/min", admin_login_username="2/15min")
    settings.EXPORT_MAX_CONCURRENT = 1
    SlotFactory.create_batch(3, creator=user)
    since = Since()

    fail_authentication(3)
    assert post(key=UNKNOWN_KEY, address=ATTACKER).status_code == 429
    assert post(key=token.key, address=ATTACKER).status_code == 429
    with streams_from_its_first_chunk:
        running = post(key=token.key)
    assert post(key=token.key).status_code == 429
    hang_up(running)
    for _ in range(3):
        log_in("operator", "wrong password", address="192.0.2.50")

    assert since("timeslot_throttled_total", scope="failed_authentication") == 2
    assert since("timeslot_throttled_total", scope="export_concurrency") == 1
    assert since("timeslot_throttled_total", scope="admin_login_username") == 1
    assert since("timeslot_throttled_total", scope="export") == 0


# Over real gunicorn workers ----------------------------------------------------------------------------

# nora, with a token and three slots; her id drawn at random, as the throttles' and places' keys in the shared
# Redis hold it: another run of this test at the same time counts under its own.
SETUP = """
import json, random
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token
from slots.models import Slot
nora = get_user_model().objects.create(pk=random.randrange(10**9, 10**12), username="nora")
for hour in range(3):
    Slot.objects.create(creator=nora, title=f"Rehearsal {hour}", start=timezone.now())
print(Token.objects.create(user=nora).key, end="")
"""
TWO_EVENTS = calendar("UID:a\nSUMMARY:a\nDTSTART:20261207T090000Z", "UID:b\nSUMMARY:b\nDTSTART:20261208T090000Z")


def multipart(headers: dict, content: str) -> tuple[dict, bytes]:
    """The headers and body of an import of the content, as a browser's form sends it."""
    body = encode_multipart(BOUNDARY, {"file": SimpleUploadedFile("calendar.ics", content.encode())})
    return {**headers, "Content-Type": MULTIPART_CONTENT}, body


def worker_of(pid: int, master: int) -> bool:
    """Whether pid is a process the gunicorn master started (the fourth field of /proc/<pid>/stat: its parent)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1]) == master
    except FileNotFoundError:
        return False


def counting_pids(folder: Path) -> set[int]:
    """The processes whose counters are in the folder (prometheus-client names its files <type>_<pid>.db)."""
    return {int(path.stem.rpartition("_")[2]) for path in folder.glob("counter_*.db")}


def test_over_two_gunicorn_workers_the_scrape_adds_up_every_request_a_dead_workers_too(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = {
        **os.environ,
        **served.production_environment(f"sqlite:///{tmp_path}/scratch.sqlite3"),
        "METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(folder), "REDIS_URL": REDIS_URL,
        # The eighth export or import of the minute is refused; no other limit counts under a key another run shares.
        "THROTTLE_EXPORT_RATE": "7/min", "THROTTLE_FEED_FETCH_RATE": "", "THROTTLE_FAILED_AUTH_RATE": "",
    }
    redis.Redis.from_url(REDIS_URL).ping()  # Fails the test if Redis is not there: .ci/run starts it.
    served.run_checked([str(served.BIN / "python"), "manage.py", "migrate", "--noinput"], env)
    key = manage_shell(env, SETUP)
    # A run before this server's start: its counts are in the folder until gunicorn starts.
    served.run_checked([str(served.BIN / "python"), "manage.py", "export_slots", "--user", "nora",
                        "--output", str(tmp_path / "nora.ics")], env)
    before = {sample.labels.get("kind") for metric in MultiProcessCollector(None, str(folder)).collect()
              for sample in metric.samples}
    assert "command" in before

    authorization = {"Authorization": f"Token token={key}"}
    json_body = {**authorization, "Content-Type": "application/json"}
    answers = []  # (what the export log calls it, or None, the answer)

    with served.gunicorn(env, ["--workers", "2"], log_folder=tmp_path) as server:
        address = ("127.0.0.1", server.port)

        def request(kind, method, path, headers=None, body=b""):
            answers.append((kind, answer := over_http(address, method, path, headers, body)))
            return answer

        request("google", "POST", "/v1/export/google", json_body)
        request("outlook", "POST", "/v1/export/outlook", json_body)
        request("import", "POST", "/v1/import", *multipart(authorization, TWO_EVENTS))
        feed = urlsplit(request(None, "POST", "/v1/feeds", json_body, b"{}").json()["url"]).path
        etag = request("feed", "GET", feed).headers["etag"]
        request("feed", "GET", feed, {"If-None-Match": etag})
        request("feed", "GET", f"/v1/feeds/{uuid.uuid4().hex}.ics")

        # One of the workers that counted is stopped; the rest is answered by others.
        (gone, *_) = counting_pids(folder)
        assert worker_of(gone, server.pid)
        os.kill(gone, signal.SIGTERM)
        deadline = time.monotonic() + PATIENCE
        while worker_of(gone, server.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not worker_of(gone, server.pid)

        request("timeslot", "POST", "/v1/export/timeslot", json_body)
        request("ical", "POST", "/v1/export/ical", json_body)
        request("import", "POST", "/v1/import", *multipart(authorization, TWO_EVENTS))
        request("google", "POST", "/v1/export/google", json_body)
        request("feed", "GET", feed, {"If-None-Match": etag})

        scrapes = []
        for _ in range(3):
            scraped = over_http(address, "GET", "/metrics", {"Authorization": f"Bearer {TOKEN}"})
            assert scraped.status == 200
            scrapes.append(samples_of(scraped.body.decode()))

    assert [(kind, answer.status) for kind, answer in answers] == [
        ("google", 200), ("outlook", 200), ("import", 200), (None, 201), ("feed", 200), ("feed", 304), ("feed", 404),
        ("timeslot", 200), ("ical", 200), ("import", 200), ("google", 429), ("feed", 304),
    ]
    assert {gone} < counting_pids(folder)
    # Whichever worker answered the scrape, it read every worker's counts.
    samples = scrapes[0]
    assert scrapes[1] == scrapes[2] == samples

    # Those that ran, as the export log calls them: not the refused export, nor the feed's 404.
    ran = [(kind, answer) for kind, answer in answers if kind and answer.status not in (404, 429)]
    statuses = Counter((kind, str(answer.status)) for kind, answer in ran)
    assert {labels: value for (name, labels), value in samples.items() if name == "timeslot_exports_total"} == {
        frozenset({"kind": kind, "status": status}.items()): count for (kind, status), count in statuses.items()
    }
    sent = Counter()
    for kind, answer in ran:
        sent[kind] += len(answer.body) if kind != "import" else len(TWO_EVENTS)
    for kind, count in Counter(kind for kind, _ in ran).items():
        assert counted(samples, "timeslot_export_bytes_total", kind=kind) == sent[kind]
        assert counted(samples, "timeslot_export_duration_seconds_count", kind=kind) == count
        assert counted(samples, "timeslot_export_duration_seconds_bucket", kind=kind, le="+Inf") == count
    assert counted(samples, "timeslot_export_bytes_total", kind="command") == 0

    fetches = Counter(str(answer.status) for kind, answer in answers if kind == "feed")
    assert {labels: value for (name, labels), value in samples.items() if name == "timeslot_feed_fetches_total"} == {
        frozenset({"status": status}.items()): count for status, count in fetches.items()
    }
    assert counted(samples, "timeslot_imports_total", outcome="ok") == 2
    assert counted(samples, "timeslot_imported_slots_total", result="created") == 2
    assert counted(samples, "timeslot_imported_slots_total", result="unchanged") == 2
    assert counted(samples, "timeslot_imported_slots_total", result="updated") == 0
    assert {labels: value for (name, labels), value in samples.items() if name == "timeslot_throttled_total"} == {
        frozenset({"scope": "export"}.items()): 1
    }


def test_counts_that_cannot_be_written_never_fail_the_export(tmp_path):
    env = {
        **os.environ, **served.production_environment(f"sqlite:///{tmp_path}/scratch.sqlite3"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "never-made"),
    }
    served.run_checked([str(served.BIN / "python"), "manage.py", "migrate", "--noinput"], env)
    manage_shell(env, SETUP)
    output = tmp_path / "nora.ics"
    command = [str(served.BIN / "python"), "manage.py", "export_slots", "--user", "nora", "--output", str(output)]

    completed = subprocess.run(command, cwd=served.ROOT, env=env, capture_output=True, text=True,
                               stdin=subprocess.DEVNULL)

    assert completed.returncode == 0, completed.stderr
    assert "Could not count exported for the metrics." in completed.stderr
    assert output.read_bytes().count(b"BEGIN:VEVENT") == 3
    assert manage_shell(env, "from export.models import ExportLog; print(ExportLog.objects.count(), end='')") == "1"
