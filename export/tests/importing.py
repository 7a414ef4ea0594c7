"""What the import tests share: a POST /v1/import and its answers, an export to import again, iCalendar text, and
the calendars from real clients that the icalendar package ships."""
import json
import threading
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from importlib.resources import files

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections, transaction

IMPORT = "/v1/import"
# Real exports (Google Calendar, Thunderbird, Etar, Exchange, Evolution...), broken files and fuzzer finds
# from icalendar's own test suite, which its wheel installs beside the package: read where pip put them,
# so that the tests need nothing but what requirements/ installs.
INTEROP = files("icalendar") / "tests" / "calendars"
# The calendars recurring-ical-events tests its expansion with (Google, Thunderbird, Outlook series, edits,
# EXDATE, RDATE periods, X-WR-TIMEZONE...), which its wheel ships beside the package.
RECURRING = files("recurring_ical_events") / "test" / "calendars"


def window_days() -> tuple[date, date]:
    """The first day of the import's recurrence window and the day after its last, as the settings and
    README say: IMPORT_RECURRENCE_PAST_DAYS before today (UTC) until IMPORT_RECURRENCE_FUTURE_DAYS after it."""
    today = datetime.now(timezone.utc).date()
    return (today - timedelta(days=settings.IMPORT_RECURRENCE_PAST_DAYS),
            today + timedelta(days=settings.IMPORT_RECURRENCE_FUTURE_DAYS + 1))


def weekdays_in_window(weekdays: range | tuple[int, ...] = range(5)) -> int:
    """The days of the window on those weekdays (Monday 0; Mondays to Fridays by default): the occurrences of
    a weekly series on them begun before it, at a time of day that is the same day in UTC."""
    first, after = window_days()
    return sum((first + timedelta(days=n)).weekday() in weekdays for n in range((after - first).days))


def upload(client, content: bytes | str, name: str = "calendar.ics", **fields):
    """POST /v1/import with the content as the multipart `file`, and any other fields."""
    data = content.encode() if isinstance(content, str) else content
    return client.post(IMPORT, {"file": SimpleUploadedFile(name, data), **fields}, format="multipart")


def imported(client, content: bytes | str, name: str = "calendar.ics", **fields) -> dict:
    """upload(), which must succeed: what the import answered (its counts and warnings)."""
    response = upload(client, content, name, **fields)
    assert response.status_code == 200, response.content
    return response.json()


def problems(client, content: bytes | str, name: str = "calendar.ics") -> list[dict]:
    """upload(), which must be refused as unprocessable: the problems the answer names."""
    response = upload(client, content, name)
    assert response.status_code == 422, response.content
    return response.json()["problems"]


def exported(client, *, format: str, **parameters) -> bytes:
    """The client's whole export in this format (POST /v1/export/<format>, with these parameters), to import
    again."""
    body = json.dumps(parameters) if parameters else b""
    response = client.post(f"/v1/export/{format}", body, content_type="application/json")
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def interop(name: str) -> bytes:
    """One of the calendars icalendar ships, as bytes."""
    return (INTEROP / name).read_bytes()


def interop_names() -> list[str]:
    """Every calendar file icalendar ships (iCalendar and jCal), by name."""
    return sorted(path.name for path in INTEROP.iterdir() if path.is_file() and path.name.endswith((".ics", ".jcal")))


def recurring(name: str) -> bytes:
    """One of the calendars recurring-ical-events ships, as bytes."""
    return (RECURRING / name).read_bytes()


def recurring_names() -> list[str]:
    """Every iCalendar file recurring-ical-events ships, by name."""
    return sorted(path.name for path in RECURRING.iterdir() if path.is_file() and path.name.endswith(".ics"))


def calendar(*events: str, head: str = "") -> str:
    """An iCalendar file holding these VEVENT bodies (lines joined with CRLF), after the head lines."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//Test//EN", *head.splitlines()]
    for event in events:
        lines += ["BEGIN:VEVENT", *event.strip().splitlines(), "END:VEVENT"]
    return "\r\n".join([*lines, "END:VCALENDAR", ""])


@contextmanager
def committed_meanwhile(write):
    """Runs write() in another thread's transaction, which commits half a second after the body of the
    with-statement begins: another request that gets to the same rows first (PostgreSQL only)."""
    written, release = threading.Event(), threading.Event()

    def other_request():
        try:
            with transaction.atomic():
                write()
                written.set()
                release.wait(5)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_request)
    thread.start()
    written.wait(5)
    threading.Timer(0.5, release.set).start()
    try:
        yield
    finally:
        thread.join()
