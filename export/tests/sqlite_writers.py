"""Imports at the same moment against an SQLite file, each thread on its own connection as gunicorn's threads
are, answered by the real view; run by test_sqlite_writers.py in a process of its own, since the database must
be a file (the tests' SQLite database lives in memory, where locks work otherwise) and DATABASE_URL must name
it before Django starts.

    python -m export.tests.sqlite_writers <file> concurrent|held

Prints one JSON object: what each import answered.
"""
import json
import os
import sqlite3
import sys
import threading

IMPORTS = 6
EVENTS = 300


def main(path: str, scenario: str) -> dict:
    os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "timeslot.settings"
    if scenario == "held":
        # A short wait, so that the lock held below outlasts it.
        os.environ["SQLITE_BUSY_TIMEOUT_MS"] = "200"
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    call_command("migrate", verbosity=0)
    # The test client's host ("testserver") among the allowed ones; nothing else of the tests' setup matters here.
    setup_test_environment()
    return concurrent() if scenario == "concurrent" else held(path)


def client_of(username: str):
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    user = get_user_model().objects.create(username=username)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def post(client, data: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post("/v1/import", {"file": SimpleUploadedFile("calendar.ics", data.encode())},
                           format="multipart")
    return {"status": response.status_code, "body": response.json(), "retry_after": response.get("Retry-After"),
            "request_id": response["X-Request-Id"]}


def calendar(prefix: str) -> str:
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:{prefix}-{n}\r\nSUMMARY:Event {n}\r\nDTSTART:20260107T0900{n % 60:02}Z\r\nEND:VEVENT\r\n"
        for n in range(EVENTS)
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Test//EN\r\n{events}END:VCALENDAR\r\n"


def concurrent() -> dict:
    """IMPORTS imports let go at once: half by users of their own calendars, half by one user of one calendar."""
    from django.db import connections

    clients = [client_of(f"user-{n}") for n in range(IMPORTS // 2)]
    shared = client_of("shared")
    jobs = [(client, calendar(f"own-{n}")) for n, client in enumerate(clients)]
    jobs += [(shared, calendar("shared"))] * (IMPORTS - len(jobs))
    start = threading.Barrier(len(jobs))
    answers = [None] * len(jobs)

    def run(index, client, data):
        try:
            start.wait()
            answers[index] = post(client, data)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index, *job)) for index, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    from slots.models import Slot

    return {"answers": answers, "slots": Slot.objects.count()}


def held(path: str) -> dict:
    """One import while another connection holds the write lock, one after it let go, and one while another
    connection reads in a transaction left open, as an export streaming to a slow client does."""
    from django.db import connection

    from slots.models import Slot

    client = client_of("nora")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        while_held = post(client, calendar("held"))
    finally:
        holder.execute("ROLLBACK")
    slots_then = Slot.objects.count()
    after = post(client, calendar("held"))
    holder.execute("BEGIN")
    holder.execute("SELECT count(*) FROM slots_slot").fetchone()
    try:
        while_read = post(client, calendar("read"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with connection.cursor() as cursor:
        journal = cursor.execute("PRAGMA journal_mode").fetchone()[0]
    return {"while_held": while_held, "slots_then": slots_then, "after": after, "while_read": while_read,
            "journal_mode": journal}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))
