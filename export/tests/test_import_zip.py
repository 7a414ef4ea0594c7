"""A ZIP of calendars (Google Calendar's export) through POST /v1/import and import_slots: a group a calendar,
all or nothing, and the bounds on what a ZIP may expand to."""
import io
import struct
import zipfile
import zlib

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from export.formats.ical.zone_rules import ZONE_WORK_STEPS
from export.imports.archives import (
    MAX_CALENDARS,
    MAX_MEMBERS,
    ArchiveDamaged,
    ArchiveTooLarge,
    expanded,
    read_calendars,
)
from export.imports.records import ImportRejected
from export.tests.ical_reader import parse_events
from export.tests.importing import upload
from slots.models import Slot, SlotGroup
from slots.tests.factories import SlotFactory, SlotGroupFactory, UserFactory

pytestmark = pytest.mark.django_db

BERLIN = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
X-LIC-LOCATION:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE"""


def google_event(uid: str, title: str, day: str = "20261207", start: str | None = None) -> str:
    start = start or f"DTSTART;TZID=Europe/Berlin:{day}T090000"
    return "\n".join([
        "BEGIN:VEVENT", start, f"DTEND;TZID=Europe/Berlin:{day}T100000", "DTSTAMP:20261201T120000Z",
        f"UID:{uid}@google.com", f"SUMMARY:{title}", "STATUS:CONFIRMED", "END:VEVENT",
    ])


def google_calendar(name: str | None, *events: str) -> str:
    """A calendar as Google Calendar's export writes it: its name, its zone and the zone's definition."""
    head = ["BEGIN:VCALENDAR", "PRODID:-//Google Inc//Google Calendar 70.9054//EN", "VERSION:2.0",
            "CALSCALE:GREGORIAN", "METHOD:PUBLISH"]
    if name is not None:
        head.append(f"X-WR-CALNAME:{name}")
    head += ["X-WR-TIMEZONE:Europe/Berlin", BERLIN]
    return "\r\n".join("\n".join([*head, *events, "END:VCALENDAR", ""]).split("\n"))


def event_line(text: str, uid: str) -> int:
    """The line the event of this UID begins on (BEGIN:VEVENT), as the import names it."""
    lines = text.split("\r\n")
    return max(n for n in range(lines.index(f"UID:{uid}@google.com")) if lines[n] == "BEGIN:VEVENT") + 1


def zip_of(members: dict[str, str | bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content.encode() if isinstance(content, str) else content)
    return buffer.getvalue()


def raw_zip(name: str, stored: bytes, *, method: int, crc: int, size: int, flags: int = 0) -> bytes:
    """A ZIP of one member whose header says what it is told to (APPNOTE.TXT 4.3.7, 4.3.12, 4.3.16): zipfile
    writes only true headers."""
    encoded = name.encode()
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flags, method, 0, 0x21, crc, len(stored), size,
                        len(encoded), 0) + encoded
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, flags, method, 0, 0x21, crc, len(stored), size,
                          len(encoded), 0, 0, 0, 0, 0, 0) + encoded
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(stored), 0)
    return local + stored + central + end


def deflated(*pieces: bytes, repeat: int = 1) -> tuple[bytes, int, int]:
    """Raw deflate of the pieces, the last repeated; with the CRC and the size of what it expands to."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    out, crc, size = [], 0, 0
    for piece in [*pieces[:-1], *[pieces[-1]] * repeat]:
        out.append(compressor.compress(piece))
        crc, size = zlib.crc32(piece, crc), size + len(piece)
    out.append(compressor.flush())
    return b"".join(out), crc, size


def bomb(megabytes: int) -> tuple[bytes, int, int]:
    """A calendar's first line, then blank lines: megabytes MiB from a few KB."""
    return deflated(b"BEGIN:VCALENDAR\r\n", b"\r\n" * (512 * 1024), repeat=megabytes)


class CountingReader(io.BytesIO):
    """The ZIP as a file that counts the bytes read from it, and remembers where they were."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.read_bytes = 0
        self.spans: list[range] = []

    def read(self, size=-1):
        start = self.tell()
        data = super().read(size)
        self.read_bytes += len(data)
        self.spans.append(range(start, start + len(data)))
        return data


WORK = google_calendar("Work", google_event("w1", "Stand-up"), google_event("w2", "Review", "20261208"))
HOME = google_calendar("Home", google_event("h1", "Dentist", "20261209"))
EXPORT = {"work@example.com.ics": WORK, "nora@gmail.com.ics": HOME}


def groups_of(user) -> dict[str, list[str]]:
    return {group.name: sorted(group.slots.values_list("title", flat=True))
            for group in SlotGroup.objects.filter(owner=user)}


# Imported -----------------------------------------------------------------------------------------


def test_each_calendar_goes_to_a_new_group_named_after_it(api, user):
    response = upload(api, zip_of(EXPORT), "nora@gmail.com.ical.zip")

    assert response.status_code == 200, response.content
    body = response.json()
    groups = {group.name: group for group in SlotGroup.objects.filter(owner=user)}
    assert set(groups) == {"Work", "Home"}
    assert set(body.pop("recurrence_window")) == {"from", "until", "max_occurrences_per_series", "max_occurrences"}
    assert body == {
        "created": 3, "updated": 0, "unchanged": 0, "removed": 0, "warnings": [], "series": [],
        "calendars": [
            {"file": "work@example.com.ics", "group": {"uuid": str(groups["Work"].uuid), "name": "Work"},
             "new_group": True, "created": 2, "updated": 0, "unchanged": 0, "removed": 0},
            {"file": "nora@gmail.com.ics", "group": {"uuid": str(groups["Home"].uuid), "name": "Home"},
             "new_group": True, "created": 1, "updated": 0, "unchanged": 0, "removed": 0},
        ],
    }
    assert groups_of(user) == {"Work": ["Review", "Stand-up"], "Home": ["Dentist"]}
    stand_up = Slot.objects.get(title="Stand-up")
    assert (stand_up.time_zone, stand_up.start.isoformat()) == ("Europe/Berlin", "2026-12-07T08:00:00+00:00")


def test_reimporting_the_same_zip_changes_nothing(api, user):
    first = upload(api, zip_of(EXPORT)).json()
    slots = sorted(Slot.objects.values_list("uuid", "updated_at"))

    again = upload(api, zip_of(EXPORT)).json()

    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
    assert [calendar["group"] for calendar in again["calendars"]] == [c["group"] for c in first["calendars"]]
    assert [calendar["new_group"] for calendar in again["calendars"]] == [False, False]
    assert sorted(Slot.objects.values_list("uuid", "updated_at")) == slots
    assert SlotGroup.objects.count() == 2


def test_a_changed_event_counts_as_updated_in_its_calendar(api, user):
    upload(api, zip_of(EXPORT))
    moved = WORK.replace("SUMMARY:Review", "SUMMARY:Review (moved)")

    body = upload(api, zip_of({**EXPORT, "work@example.com.ics": moved})).json()

    assert [(c["created"], c["updated"], c["unchanged"]) for c in body["calendars"]] == [(0, 1, 1), (0, 0, 1)]
    assert (body["created"], body["updated"], body["unchanged"]) == (0, 1, 2)
    assert groups_of(user) == {"Work": ["Review (moved)", "Stand-up"], "Home": ["Dentist"]}


def test_a_zip_of_stored_calendars_imports_as_a_deflated_one(api, user):
    body = upload(api, zip_of(EXPORT, zipfile.ZIP_STORED)).json()

    imported = [(c["file"], c["created"]) for c in body["calendars"]]
    assert imported == [("work@example.com.ics", 2), ("nora@gmail.com.ics", 1)]


def test_the_users_own_group_of_the_name_is_reused_not_another_users(api, user):
    own = SlotGroupFactory(owner=user, name="Home")
    others = SlotGroupFactory(owner=UserFactory(), name="Work")
    others.members.add(user)

    body = upload(api, zip_of(EXPORT)).json()

    assert [(c["group"]["name"], c["new_group"]) for c in body["calendars"]] == [("Work", True), ("Home", False)]
    assert body["calendars"][1]["group"]["uuid"] == str(own.uuid)
    assert sorted(own.slots.values_list("title", flat=True)) == ["Dentist"]
    assert not others.slots.exists()
    assert SlotGroup.objects.get(owner=user, name="Work").slots.count() == 2


def test_a_calendar_without_a_name_takes_its_file_name_and_folders_are_read(api, user):
    archive = zip_of({"Takeout/Calendar/team@example.com.ics": google_calendar(None, google_event("t", "Sync"))})

    body = upload(api, archive).json()

    assert body["calendars"][0]["group"]["name"] == "team@example.com"
    assert groups_of(user) == {"team@example.com": ["Sync"]}


def test_a_folded_and_escaped_name_is_read_as_a_calendar_app_shows_it(api, user):
    text = google_calendar("Family\\, friends", google_event("f", "Picnic")).replace(
        "X-WR-CALNAME:Family\\, friends", "X-WR-CALNAME:Family\\, fr\r\n iends")

    body = upload(api, zip_of({"family.ics": text})).json()

    assert body["calendars"][0]["group"]["name"] == "Family, friends"


def test_a_zip_is_told_by_its_bytes_not_its_name(api, user):
    assert upload(api, zip_of(EXPORT), "calendar.ics").json()["created"] == 3
    single = upload(api, WORK, "export.zip").json()
    assert (single["created"], single["unchanged"], single["warnings"]) == (0, 2, [])
    assert "calendars" not in single


def test_an_event_in_two_calendars_is_one_slot_in_both_groups(api, user):
    shared = google_event("s", "All hands")
    archive = zip_of({"work.ics": google_calendar("Work", shared), "team.ics": google_calendar("Team", shared)})

    body = upload(api, archive).json()

    assert [(c["created"], c["unchanged"]) for c in body["calendars"]] == [(1, 0), (0, 1)]
    assert Slot.objects.count() == 1
    assert groups_of(user) == {"Work": ["All hands"], "Team": ["All hands"]}


def test_an_event_in_two_calendars_with_other_details_refuses_the_zip(api, user):
    work = google_calendar("Work", google_event("w", "Stand-up"), google_event("s", "All hands"))
    team = google_calendar("Team", google_event("s", "All hands (moved)"))

    response = upload(api, zip_of({"work.ics": work, "team.ics": team}))

    assert response.status_code == 422
    assert response.json()["problems"] == [{
        "where": f"team.ics line {event_line(team, 's')}",
        "problem": f"Has the same UID as work.ics line {event_line(work, 's')}, with other details.",
    }]
    assert not SlotGroup.objects.exists()


def test_members_other_than_calendars_are_left_out_with_a_warning(api, user):
    archive = zip_of({
        "__MACOSX/._work.ics": b"\x00\x05\x16\x07", ".DS_Store": b"\x00\x00", "Takeout/": b"",
        "notes.txt": "not a calendar", "work.ics": WORK,
    })

    body = upload(api, archive).json()

    assert body["warnings"] == [{"where": "notes.txt", "warning": "Not a calendar (.ics); left out."}]
    assert [calendar["file"] for calendar in body["calendars"]] == ["work.ics"]


def test_an_empty_calendar_gets_its_group_and_a_warning(api, user):
    body = upload(api, zip_of({"empty.ics": google_calendar("Empty"), "work.ics": WORK})).json()

    assert body["warnings"] == [{"where": "empty.ics", "warning": "The calendar holds no events."}]
    assert groups_of(user) == {"Empty": [], "Work": ["Review", "Stand-up"]}


def test_a_calendars_warnings_and_series_name_its_file(api, user):
    repeating = google_event("r", "Weekly").replace("STATUS:CONFIRMED", "RRULE:FREQ=WEEKLY;COUNT=3")
    unreadable = google_event("c", "Created long ago").replace("STATUS:CONFIRMED", "CREATED:00001231T000000Z")
    work = google_calendar("Work", repeating, unreadable)

    body = upload(api, zip_of({"work.ics": work})).json()

    created_line = work.split("\r\n").index("CREATED:00001231T000000Z") + 1
    assert [warning["where"] for warning in body["warnings"]] == [f"work.ics line {created_line}"]
    assert [(series["where"], series["occurrences"]) for series in body["series"]] == [
        (f"work.ics line {event_line(work, 'r')}", 3)]


# All or nothing -----------------------------------------------------------------------------------


def bad_export() -> tuple[dict[str, str], int]:
    """The export with a calendar whose second event has no start, and the line that event begins on."""
    bad = google_calendar("Bad", google_event("b1", "Fine"), google_event("b2", "Broken", start="DTSTART:"))
    return {**EXPORT, "bad@example.com.ics": bad}, event_line(bad, "b2")


def test_one_bad_calendar_is_422_naming_its_file_and_line_and_nothing_is_written(api, user):
    members, line = bad_export()

    response = upload(api, zip_of(members))

    assert response.status_code == 422
    [problem] = response.json()["problems"]
    assert problem["where"] == f"bad@example.com.ics line {line}"
    assert "DTSTART" in problem["problem"]
    assert not Slot.objects.exists()
    assert not SlotGroup.objects.exists()


def test_every_calendars_problems_are_listed(api, user):
    members = {"a.ics": "BEGIN:VCALENDAR\r\n\xff".encode("latin-1"), "b.ics": "Subject,Start Date\r\nx,y\r\n",
               "c.ics": WORK}

    problems = upload(api, zip_of(members)).json()["problems"]

    assert problems == [
        {"where": "a.ics line 2", "problem": "The file is not UTF-8 text; save it as UTF-8."},
        {"where": "b.ics", "problem": "Not an iCalendar file (BEGIN:VCALENDAR): a ZIP's .ics files are calendars."},
    ]
    assert not SlotGroup.objects.exists()


def test_a_refusal_while_writing_takes_back_the_calendars_written_before_it(api, user):
    """The last calendar's two events both update one slot, which only the write finds: the first
    calendar's slots and group were written by then, and are rolled back with the rest."""
    slot = SlotFactory(creator=user, source_uid="legacy@example.com")
    clash = google_calendar("Clash", google_event("x", "By uuid"), google_event("y", "By uid"))
    first, second = event_line(clash, "x"), event_line(clash, "y")
    clash = clash.replace("x@google.com", str(slot.uuid)).replace("y@google.com", "legacy@example.com")

    response = upload(api, zip_of({"work.ics": WORK, "clash.ics": clash}))

    assert response.status_code == 422
    assert response.json()["problems"] == [
        {"where": f"clash.ics line {second}", "problem": f"Updates the same slot as line {first}."}
    ]
    assert list(Slot.objects.values_list("pk", flat=True)) == [slot.pk]
    assert not SlotGroup.objects.filter(owner=user).exists()


def test_group_is_not_taken_with_a_zip(api, user):
    group = SlotGroupFactory(owner=user)

    response = upload(api, zip_of(EXPORT), group=str(group.uuid))

    assert response.status_code == 422
    assert response.json()["problems"] == [{
        "where": "group", "problem": "A ZIP's calendars go to groups named after them; group is not taken with a ZIP.",
    }]
    assert not Slot.objects.exists()


@override_settings(IMPORT_MAX_RECORDS=2)
def test_the_record_limit_is_the_zips_not_each_calendars(api, user):
    problems = upload(api, zip_of(EXPORT)).json()["problems"]

    assert problems == [{"where": "nora@gmail.com.ics",
                         "problem": "The ZIP's calendars hold more than 2 records, the most one import takes."}]


# Bounds -------------------------------------------------------------------------------------------


def test_a_zip_bomb_is_refused_from_its_directory_without_reading_its_data(api, user):
    data, crc, size = bomb(10)
    archive = raw_zip("bomb.ics", data, method=zipfile.ZIP_DEFLATED, crc=crc, size=size)
    assert len(data) < 16 * 1024 and size == 10 * 1024 * 1024 + 17
    source = CountingReader(archive)

    with pytest.raises(ImportRejected) as refused:
        read_calendars(source, limit=5 * 1024 * 1024)

    assert refused.value.problems == [{"where": "bomb.ics", "problem": f"The file declares {size:,} bytes from "
                                       f"{len(data):,}: more than 100:1, which no calendar compresses to."}]
    # The end record and the directory were read, not one byte of the member's data (after its local header).
    member_data = range(30 + len("bomb.ics"), 30 + len("bomb.ics") + len(data))
    assert source.spans and not any(set(span) & set(member_data) for span in source.spans)
    assert upload(api, archive).status_code == 422


def test_a_header_that_lies_about_the_size_expands_no_further_than_it_says(api, user):
    data, crc, size = bomb(10)
    # What it declares passes every check of the directory: 100 KB from 10 KB, under the limit.
    declared = 10 * len(data)
    archive = raw_zip("liar.ics", data, method=zipfile.ZIP_DEFLATED, crc=crc, size=declared)

    with pytest.raises(ArchiveDamaged) as refused:
        read_calendars(io.BytesIO(archive), limit=5 * 1024 * 1024)

    assert refused.value.problems == [
        {"where": "liar.ics", "problem": "The ZIP is damaged and cannot be read (Bad CRC-32 for file 'liar.ics')."}
    ]
    assert refused.value.expanded <= declared < size
    response = upload(api, archive)
    assert response.status_code == 422
    assert response.json()["problems"] == refused.value.problems


def test_calendars_that_expand_past_the_limit_are_413_before_one_is_expanded(api, user):
    limit = len(WORK) + len(HOME) - 1
    source = CountingReader(zip_of(EXPORT))

    with pytest.raises(ArchiveTooLarge) as refused:
        read_calendars(source, limit=limit)

    assert str(refused.value) == (f"The ZIP's calendars expand to more than {limit:,} bytes, the most an import "
                                  "takes (nora@gmail.com.ics).")
    assert refused.value.expanded == 0
    with override_settings(IMPORT_MAX_BYTES=limit):
        response = upload(api, zip_of(EXPORT))
    assert response.status_code == 413
    assert response.json() == {"detail": str(refused.value), "request_id": response["X-Request-Id"]}
    assert not SlotGroup.objects.exists()


def test_the_read_of_a_calendar_stops_one_byte_past_what_is_left():
    """The directory check and zipfile's own stop at the declared size both aside, the read itself is bounded:
    a limit smaller than one calendar's declared size, as if the directory had let it through."""
    archive = zipfile.ZipFile(io.BytesIO(zip_of({"work.ics": WORK})))

    with pytest.raises(ArchiveTooLarge) as refused:
        expanded(archive, archive.infolist()[0], left=100, limit=100)

    assert refused.value.expanded == 101


def far_zones_calendar(name: str, zones: int) -> str:
    """A calendar of zones like Paris as Outlook writes them (from 1601), each used in 9998: about 2,400 steps
    of zone work each, which one import may spend 250,000 of."""
    rules = ["BEGIN:STANDARD\nDTSTART:16010101T030000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\n"
             "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\nEND:STANDARD",
             "BEGIN:DAYLIGHT\nDTSTART:16010101T020000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\n"
             "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\nEND:DAYLIGHT"]
    zone = "BEGIN:VTIMEZONE\nTZID:Zone {}\n" + "\n".join(rules) + "\nEND:VTIMEZONE"
    head = [f"X-WR-CALNAME:{name}", *(zone.format(n) for n in range(zones))]
    events = [f"BEGIN:VEVENT\nUID:{name}-{n}\nDTSTART;TZID=Zone {n}:99980601T120000\nEND:VEVENT" for n in range(zones)]
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", *head, *events, "END:VCALENDAR", ""]
    return "\r\n".join("\n".join(lines).split("\n"))


def test_the_calendars_share_one_imports_zone_work(api, user):
    """Each calendar alone spends a little over half of an import's zone work: a ZIP of a hundred such would
    otherwise cost a hundred imports' worth."""
    first, second = far_zones_calendar("First", 55), far_zones_calendar("Second", 55)
    assert upload(api, first).status_code == 200

    response = upload(api, zip_of({"first.ics": first, "second.ics": second}))

    assert response.status_code == 422
    [problem] = response.json()["problems"]
    assert problem["where"].startswith("second.ics line ")
    assert problem["problem"].endswith(f"takes more than the {ZONE_WORK_STEPS:,} steps of their rules an import "
                                       "may take.")
    assert not SlotGroup.objects.filter(name__in=["First", "Second"]).exists()


def test_more_calendars_than_an_import_takes_are_refused(api, user):
    archive = zip_of({f"{n}.ics": HOME for n in range(MAX_CALENDARS + 1)})

    response = upload(api, archive)

    assert response.status_code == 422
    assert response.json()["problems"] == [{"where": "file", "problem": "The ZIP holds 101 calendars (.ics files); "
                                            "an import takes at most 100."}]


def test_a_zip_of_more_files_than_an_import_takes_is_refused_before_its_directory_is_parsed(api, user):
    archive = zip_of({f"{n}.txt": b"" for n in range(MAX_MEMBERS + 1)})
    source = CountingReader(archive)

    with pytest.raises(ImportRejected) as refused:
        read_calendars(source, limit=5 * 1024 * 1024)

    assert refused.value.problems == [{"where": "file", "problem": "The ZIP holds 1,001 files; an import takes at "
                                       "most 1,000 (and 100 calendars)."}]
    # The end record alone was read, not the directory.
    assert source.read_bytes == 22
    assert upload(api, archive).json()["problems"] == refused.value.problems


def test_an_end_record_that_lies_about_the_count_is_caught_by_zipfiles(api, user):
    """zipfile reads the directory by its size, not by the count the end record declares."""
    archive = bytearray(zip_of({f"{n}.txt": b"" for n in range(MAX_MEMBERS + 1)}))
    struct.pack_into("<2H", archive, len(archive) - 22 + 8, 1, 1)
    assert len(zipfile.ZipFile(io.BytesIO(archive)).infolist()) == MAX_MEMBERS + 1

    problems = upload(api, bytes(archive)).json()["problems"]

    assert problems == [{"where": "file", "problem": "The ZIP holds 1,001 files; an import takes at most 1,000 "
                         "(and 100 calendars)."}]


def test_an_encrypted_calendar_is_refused(api, user):
    archive = raw_zip("secret.ics", b"\x00" * 40, method=zipfile.ZIP_STORED, crc=0, size=40, flags=0x1)

    problems = upload(api, archive).json()["problems"]

    assert problems == [{"where": "secret.ics",
                         "problem": "The file is encrypted; export the calendars again without a password."}]


def test_a_calendar_compressed_otherwise_than_by_deflate_is_refused(api, user):
    problems = upload(api, zip_of({"work.ics": WORK}, zipfile.ZIP_BZIP2)).json()["problems"]

    assert problems == [{"where": "work.ics", "problem": "The file is compressed with method 12; an import takes "
                         "calendars stored or deflated (what Google Calendar and every archiver write)."}]


def test_two_members_of_one_name_are_refused(api, user):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("work.ics", WORK)
        archive.writestr("work.ics", HOME)

    problems = upload(api, buffer.getvalue()).json()["problems"]

    assert problems == [{"where": "work.ics", "problem": "The ZIP holds two files of this name."}]


@pytest.mark.parametrize("archive, problem", [
    (b"PK\x03\x04" + b"\x00" * 100, "The ZIP is damaged and cannot be read (File is not a zip file)."),
    (zip_of({})[:-1] + b"", "The ZIP is damaged and cannot be read (File is not a zip file)."),
    (zip_of({}), "The ZIP holds no calendar (.ics file)."),
    (zip_of({"readme.txt": "hi"}), "The ZIP holds no calendar (.ics file)."),
])
def test_a_zip_that_cannot_be_read_or_holds_no_calendar_is_refused(api, user, archive, problem):
    response = upload(api, archive)

    assert response.status_code == 422
    assert response.json()["problems"] == [{"where": "file", "problem": problem}]


def test_a_calendar_whose_compressed_data_are_cut_short_is_refused(api, user):
    data, crc, size = deflated(WORK.encode(), b"\r\n", repeat=1)
    archive = raw_zip("work.ics", data[:len(data) // 2], method=zipfile.ZIP_DEFLATED, crc=crc, size=size)

    response = upload(api, archive)

    assert response.status_code == 422
    assert response.json()["problems"] == [{
        "where": "work.ics", "problem": "The ZIP is damaged and cannot be read (Bad CRC-32 for file 'work.ics').",
    }]
    assert not SlotGroup.objects.exists()


# The command and the schema ------------------------------------------------------------------------


def test_the_command_prints_each_calendar_and_its_group(user, tmp_path, capsys):
    SlotGroupFactory(owner=user, name="Home")
    path = tmp_path / "export.zip"
    path.write_bytes(zip_of({**EXPORT, "notes.txt": "x"}))

    call_command("import_slots", "--user", user.username, str(path))

    groups = {group.name: group.uuid for group in SlotGroup.objects.filter(owner=user)}
    assert capsys.readouterr().out.splitlines() == [
        "Created 3, updated 0, unchanged 0, removed 0, in 2 calendars:",
        f"  work@example.com.ics: group 'Work' (new) {groups['Work']}: created 2, updated 0, unchanged 0, removed 0.",
        f"  nora@gmail.com.ics: group 'Home' {groups['Home']}: created 1, updated 0, unchanged 0, removed 0.",
        "Warning: notes.txt: Not a calendar (.ics); left out.",
    ]
    assert groups_of(user) == {"Work": ["Review", "Stand-up"], "Home": ["Dentist"]}


def test_the_command_and_the_api_are_one_import(api, user, tmp_path, capsys):
    upload(api, zip_of(EXPORT))
    path = tmp_path / "export.zip"
    path.write_bytes(zip_of(EXPORT))

    call_command("import_slots", "--user", user.username, str(path))

    assert capsys.readouterr().out.splitlines()[0] == "Created 0, updated 0, unchanged 3, removed 0, in 2 calendars:"
    assert SlotGroup.objects.count() == 2


def test_the_command_refuses_a_bad_calendar_naming_its_file_and_line(user, tmp_path):
    members, line = bad_export()
    path = tmp_path / "export.zip"
    path.write_bytes(zip_of(members))

    with pytest.raises(CommandError, match=f"^{path} was not imported: bad@example.com.ics line {line}: "):
        call_command("import_slots", "--user", user.username, str(path))
    assert not SlotGroup.objects.exists()


def test_the_command_takes_no_group_with_a_zip(user, tmp_path):
    group = SlotGroupFactory(owner=user)
    path = tmp_path / "export.zip"
    path.write_bytes(zip_of(EXPORT))

    with pytest.raises(CommandError, match="group: A ZIP's calendars go to groups named after them"):
        call_command("import_slots", "--user", user.username, "--group", str(group.uuid), str(path))


def test_the_command_refuses_calendars_past_the_limit(user, tmp_path, settings):
    path = tmp_path / "export.zip"
    path.write_bytes(zip_of(EXPORT))
    settings.IMPORT_MAX_BYTES = path.stat().st_size
    assert settings.IMPORT_MAX_BYTES < len(WORK) + len(HOME)

    with pytest.raises(CommandError, match=f"The ZIP's calendars expand to more than {settings.IMPORT_MAX_BYTES:,}"):
        call_command("import_slots", "--user", user.username, str(path))


def test_the_schema_describes_the_calendars_of_a_zip(client):
    schema = client.get("/v1/schema/", {"format": "json"}).json()
    components = schema["components"]["schemas"]

    assert "calendars" not in components["ImportResult"].get("required", [])
    assert components["ImportResult"]["properties"]["calendars"]["items"] == {
        "$ref": "#/components/schemas/ImportCalendar"
    }
    assert set(components["ImportCalendar"]["properties"]) == {
        "file", "group", "new_group", "created", "updated", "unchanged", "removed"
    }
    assert set(components["ImportCalendar"]["required"]) == set(components["ImportCalendar"]["properties"])


def test_an_imported_calendar_exports_again_with_its_group(api, user):
    body = upload(api, zip_of(EXPORT)).json()
    work = body["calendars"][0]["group"]["uuid"]

    response = api.post("/v1/export/ical", {"group": work}, format="json")

    events = parse_events(b"".join(response.streaming_content))
    assert sorted(event["SUMMARY"] for event in events) == ["Review", "Stand-up"]
