"""What the import tests share: a POST /v1/import and its answers, an export to import again, iCalendar text, and
the interop calendars of ../shared."""
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

IMPORT = "/v1/import"
# Real exports and broken files from icalendar's test suite (../shared/interop/README.md),
# read in place: CI checks ../shared out beside the clone.
INTEROP = Path(__file__).resolve().parents[3] / "shared" / "interop"


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


def exported(client, *, format: str) -> bytes:
    """The client's whole export in this format (POST /v1/export/<format>), to import again."""
    response = client.post(f"/v1/export/{format}", b"", content_type="application/json")
    return b"".join(response.streaming_content)


def interop(name: str) -> bytes:
    path = INTEROP / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: the import tests read ../shared/interop beside the clone.")
    return path.read_bytes()


def calendar(*events: str, head: str = "") -> str:
    """An iCalendar file holding these VEVENT bodies (lines joined with CRLF), after the head lines."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//Test//EN", *head.splitlines()]
    for event in events:
        lines += ["BEGIN:VEVENT", *event.strip().splitlines(), "END:VEVENT"]
    return "\r\n".join([*lines, "END:VCALENDAR", ""])
