"""SQLite, the development default: imports at the same moment wait their turn for the write lock, and one that
waits too long is a 503 that says the database was busy. Each scenario runs export/tests/sqlite_writers.py in a
process of its own, against a database file: the tests' own SQLite database is in memory, where locks differ."""
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from timeslot.exceptions import DATABASE_BUSY_RETRY_AFTER, DatabaseBusy

REPOSITORY = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
    reason="SQLite's write lock: PostgreSQL locks rows, and its concurrent imports are tested in test_import_api.py",
)


def scenario(tmp_path, name: str) -> dict:
    environment = {name: value for name, value in os.environ.items()
                   if name not in ("DATABASE_URL", "SQLITE_BUSY_TIMEOUT_MS")}
    # A guard against a hang, not a measure: the scenarios take a few seconds.
    done = subprocess.run(
        [sys.executable, "-m", "export.tests.sqlite_writers", str(tmp_path / "timeslot.sqlite3"), name],
        cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_imports_let_go_at_once_each_wait_their_turn_and_all_succeed(tmp_path):
    result = scenario(tmp_path, "concurrent")

    answers = result["answers"]
    assert [answer["status"] for answer in answers] == [200] * 6, answers
    # Three users' own calendars, and one user's calendar three times: created once, then found unchanged.
    own, shared = answers[:3], answers[3:]
    assert all(answer["body"]["created"] == 300 for answer in own)
    assert sorted((answer["body"]["created"], answer["body"]["unchanged"]) for answer in shared) == [
        (0, 300), (0, 300), (300, 0)]
    assert result["slots"] == 4 * 300


def test_an_import_that_waits_longer_than_the_busy_timeout_is_503_busy_and_writes_nothing(tmp_path):
    result = scenario(tmp_path, "held")

    busy = result["while_held"]
    assert busy["status"] == 503
    assert busy["body"] == {"detail": DatabaseBusy.default_detail, "request_id": busy["request_id"]}
    assert "busy" in busy["body"]["detail"] and "cannot reach" not in busy["body"]["detail"]
    assert busy["retry_after"] == str(DATABASE_BUSY_RETRY_AFTER)
    assert result["slots_then"] == 0
    assert result["after"]["status"] == 200 and result["after"]["body"]["created"] == 300


def test_an_import_does_not_wait_for_a_transaction_that_only_reads(tmp_path):
    result = scenario(tmp_path, "held")

    # WAL: a reader holds up no writer; in SQLite's default journal the import's commit would wait for it.
    assert result["journal_mode"] == "wal"
    assert result["while_read"]["status"] == 200 and result["while_read"]["body"]["created"] == 300


def test_the_command_says_in_one_line_that_the_database_was_busy(tmp_path):
    database = tmp_path / "timeslot.sqlite3"
    environment = {**{name: value for name, value in os.environ.items() if name != "DATABASE_URL"},
                   "DATABASE_URL": f"sqlite:///{database}", "SQLITE_BUSY_TIMEOUT_MS": "200"}

    def manage(*arguments):
        return subprocess.run([sys.executable, "manage.py", *arguments], cwd=REPOSITORY, env=environment,
                              capture_output=True, text=True, timeout=300)

    assert manage("migrate", "--verbosity", "0").returncode == 0
    made = manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                                 "get_user_model().objects.create_user('ana')")
    assert made.returncode == 0, made.stderr
    calendar = tmp_path / "one.ics"
    calendar.write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:1@t\r\n"
                        "DTSTAMP:20260101T000000Z\r\nDTSTART:20260101T090000Z\r\nSUMMARY:One\r\nEND:VEVENT\r\n"
                        "END:VCALENDAR\r\n")
    holder = sqlite3.connect(database)
    try:
        holder.execute("BEGIN IMMEDIATE")
        busy = manage("import_slots", str(calendar), "--user", "ana")
    finally:
        holder.rollback()
        holder.close()
    after = manage("import_slots", str(calendar), "--user", "ana")

    assert busy.returncode == 1 and "Traceback" not in busy.stderr
    assert busy.stderr.strip() == f"CommandError: {calendar} was not imported: {DatabaseBusy.default_detail}"
    assert after.returncode == 0 and "Created 1" in after.stdout
