"""A Google Calendar export of a busy decade, written reproducibly for the import benchmark.

What Google writes (an export of calendar.google.com, as the files people bring in look): the
calendar's name and zone (X-WR-CALNAME, X-WR-TIMEZONE), one VTIMEZONE per zone used, and events with
DTSTAMP, CREATED, LAST-MODIFIED, SEQUENCE, STATUS and TRANSP, descriptions folded at 75 octets,
attendees and an organizer, a reminder (VALARM) on most. A quarter of the events are weekly series
(RRULE with COUNT or UNTIL), spread over ten years, so that most of them ended long ago, as in a
real decade; some series have an EXDATE. About 2.2 KB an event, as the 50 MB export of 23,080
events that this imitates.
"""
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

UTC = timezone.utc
FIRST = datetime(2016, 1, 4, 8, tzinfo=UTC)
DAYS = 10 * 365
ZONES = {
    "Europe/Berlin": (
        "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nX-LIC-LOCATION:Europe/Berlin\r\n"
        "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"
        "DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n"
        "BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n"
        "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"
        "END:VTIMEZONE\r\n"
    ),
    "America/New_York": (
        "BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\nX-LIC-LOCATION:America/New_York\r\n"
        "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nTZNAME:EDT\r\n"
        "DTSTART:19700308T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\nEND:DAYLIGHT\r\n"
        "BEGIN:STANDARD\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nTZNAME:EST\r\n"
        "DTSTART:19701101T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\nEND:STANDARD\r\n"
        "END:VTIMEZONE\r\n"
    ),
}
WORDS = (
    "agenda", "budget", "review", "Müller", "planning", "quarterly", "roadmap", "Straße", "design", "call",
    "follow-up", "notes", "Zoom", "https://meet.google.com/abc-defg-hij", "café", "retro", "customer",
    "sprint", "hiring", "偏差", "draft", "slides", "dinner", "dentist", "training", "launch", "travel",
)
TITLES = ("Stand-up", "1:1 with Ana", "Sprint review", "Dentist", "Team lunch", "Board meeting",
          "Yoga", "Flight LH 400", "Kita pick-up", "Quarterly planning", "Interview", "Café with Jo")
DAYS_OF_WEEK = ("MO", "TU", "WE", "TH", "FR")


def google_export(megabytes: float, seed: int = 7) -> tuple[bytes, int, int]:
    """The export of about megabytes MB, its event count and its series count."""
    rng = random.Random(seed)
    target = int(megabytes * 1_000_000)
    head = (
        "BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nVERSION:2.0\r\n"
        "CALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\nX-WR-CALNAME:ana@example.com\r\n"
        "X-WR-TIMEZONE:Europe/Berlin\r\n" + "".join(ZONES.values())
    ).encode()
    pieces, size, events, series = [head], len(head), 0, 0
    tail = b"END:VCALENDAR\r\n"
    while size + len(tail) < target:
        event, repeats = google_event(rng, events)
        pieces.append(event)
        size += len(event)
        events += 1
        series += repeats
    pieces.append(tail)
    return b"".join(pieces), events, series


def google_event(rng: random.Random, number: int) -> tuple[bytes, bool]:
    start = FIRST + timedelta(days=rng.randrange(DAYS), minutes=15 * rng.randrange(40))
    zone = "Europe/Berlin" if rng.random() < 0.8 else "America/New_York"
    stamp = "20261120T101500Z"
    lines = ["BEGIN:VEVENT"]
    repeats = rng.random() < 0.25
    if rng.random() < 0.08 and not repeats:
        lines += [f"DTSTART;VALUE=DATE:{start:%Y%m%d}", f"DTEND;VALUE=DATE:{start + timedelta(days=1):%Y%m%d}"]
    else:
        local = start.replace(tzinfo=None)
        lines += [f"DTSTART;TZID={zone}:{local:%Y%m%dT%H%M%S}",
                  f"DTEND;TZID={zone}:{local + timedelta(minutes=rng.choice((30, 45, 60, 90))):%Y%m%dT%H%M%S}"]
    if repeats:
        day = rng.choice(DAYS_OF_WEEK)
        if rng.random() < 0.5:
            lines.append(f"RRULE:FREQ=WEEKLY;COUNT={rng.randint(4, 40)};BYDAY={day}")
        else:
            until = start + timedelta(weeks=rng.randint(4, 60))
            lines.append(f"RRULE:FREQ=WEEKLY;UNTIL={until:%Y%m%dT%H%M%SZ};BYDAY={day}")
        if rng.random() < 0.3:
            skipped = (start + timedelta(weeks=2)).replace(tzinfo=None)
            lines.append(f"EXDATE;TZID={zone}:{skipped:%Y%m%dT%H%M%S}")
    lines += [
        f"DTSTAMP:{stamp}",
        "ORGANIZER;CN=Ana Lima:mailto:ana@example.com",
        f"UID:{rng.getrandbits(96):024x}{number:06d}@google.com",
    ]
    for guest in range(rng.randint(0, 5)):
        lines.append(
            f"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=guest{guest}@example.com;"
            f"X-NUM-GUESTS=0:mailto:guest{guest}@example.com"
        )
    lines += [
        f"CREATED:{start - timedelta(days=rng.randint(1, 90)):%Y%m%dT%H%M%SZ}",
        "DESCRIPTION:" + escaped(" ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 260)))),
        f"LAST-MODIFIED:{start - timedelta(days=rng.randint(0, 3)):%Y%m%dT%H%M%SZ}",
        "LOCATION:" + escaped(rng.choice(("", "Room 4.12", "Straße des 17. Juni 135, 10623 Berlin, Germany"))),
        f"SEQUENCE:{rng.randint(0, 3)}",
        "STATUS:CONFIRMED",
        "SUMMARY:" + escaped(rng.choice(TITLES)),
        "TRANSP:OPAQUE",
    ]
    if rng.random() < 0.7:
        lines += ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:This is an event reminder",
                  "TRIGGER:-P0DT0H10M0S", "END:VALARM"]
    lines.append("END:VEVENT")
    return "".join(line + "\r\n" for text in lines for line in folded(text)).encode(), repeats


def escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def folded(line: str) -> Iterator[str]:
    """RFC 5545 §3.1: lines of at most 75 octets, continued after a space, never inside a character."""
    encoded, first = line.encode(), True
    while encoded:
        room = 75 if first else 74
        cut = min(room, len(encoded))
        while cut < len(encoded) and (encoded[cut] & 0xC0) == 0x80:
            cut -= 1
        yield ("" if first else " ") + encoded[:cut].decode()
        encoded, first = encoded[cut:], False
