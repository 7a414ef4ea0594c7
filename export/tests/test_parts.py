"""The calendar in parts that Google Calendar imports whole: the splitter, the streamed ZIP, the API's answers.

Every part is read back with icalendar and every ZIP with zipfile, the independent parsers.
"""
import dataclasses
import io
import logging
import zipfile
from datetime import datetime, timezone

import pytest
from django.core.management import call_command
from django.test import override_settings

from export.exports import export_for
from export.formats.chunks import CHUNK_OCTETS
from export.formats.parts import calendar_parts, zipped
from export.models import ExportLog
from export.renderers import ICalendarPartsRenderer, ICalendarRenderer
from export.tests.ical_reader import parse_calendar, parse_events
from export.tests.test_api import GOOGLE, ICAL, export, post
from export.tests.test_command import run, without_stamp
from slots.tests.factories import SlotFactory, SlotGroupFactory

pytestmark = pytest.mark.django_db

HEAD = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
TAIL = b"END:VCALENDAR\r\n"
STAMP = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
ZIP = "application/zip"


def event(uid: str, description: str = "") -> bytes:
    lines = [b"BEGIN:VEVENT", b"UID:" + uid.encode(), b"DTSTAMP:20261201T080000Z", b"DTSTART:20261201T090000Z"]
    if description:
        lines.append(b"DESCRIPTION:" + description.encode())
    return b"\r\n".join([*lines, b"END:VEVENT", b""])


def uids(part: bytes) -> list[str]:
    return [str(event["UID"]) for event in parse_events(part)]


def unzipped(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def vevents(calendar: bytes) -> list[bytes]:
    """A calendar's events as the bytes it holds them in."""
    body = calendar[calendar.index(b"BEGIN:VEVENT"):-len(TAIL)] if b"BEGIN:VEVENT" in calendar else b""
    return [b"BEGIN:VEVENT" + piece for piece in body.split(b"BEGIN:VEVENT")[1:]]


# The splitter -----------------------------------------------------------------------------------


def test_parts_are_complete_calendars_within_the_budget_holding_every_event_once_in_order():
    events = [event(f"uid-{n}", "x" * (n % 7 * 40)) for n in range(300)]

    parts = list(calendar_parts(HEAD, iter(events), TAIL, budget=4000))

    assert len(parts) > 10
    assert all(len(part) <= 4000 for part in parts)
    assert all(part.startswith(HEAD) and part.endswith(TAIL) for part in parts)
    assert [uid for part in parts for uid in uids(part)] == [f"uid-{n}" for n in range(300)]
    assert all(parse_calendar(part)["PRODID"] == "-//test//EN" for part in parts)


def test_a_calendar_of_exactly_the_budget_is_one_part_and_one_byte_more_makes_two():
    events = [event("a"), event("b"), event("c")]
    exact = len(HEAD) + sum(map(len, events)) + len(TAIL)

    assert list(calendar_parts(HEAD, events, TAIL, budget=exact)) == [HEAD + b"".join(events) + TAIL]
    longer = [event("a"), event("b"), event("c" * 2)]
    parts = list(calendar_parts(HEAD, longer, TAIL, budget=exact))
    assert [uids(part) for part in parts] == [["a", "b"], ["cc"]]


def test_a_boundary_that_falls_inside_a_long_event_moves_the_whole_event_to_the_next_part():
    # The long event's folded description would cross the budget halfway: it is not cut.
    long = event("long", "y" * 3000)
    events = [event("first"), long, event("last")]

    parts = list(calendar_parts(HEAD, events, TAIL, budget=len(HEAD) + len(events[0]) + 1500 + len(TAIL)))

    assert [uids(part) for part in parts] == [["first"], ["long"], ["last"]]
    assert str(parse_events(parts[1])[0]["DESCRIPTION"]) == "y" * 3000


def test_an_event_larger_than_the_budget_alone_is_a_part_of_its_own_over_the_budget():
    huge = event("huge", "z" * 5000)

    parts = list(calendar_parts(HEAD, [event("a"), huge, event("b")], TAIL, budget=2000))

    assert [uids(part) for part in parts] == [["a"], ["huge"], ["b"]]
    assert [len(part) > 2000 for part in parts] == [False, True, False]


def test_a_calendar_without_events_is_one_part_without_events():
    assert list(calendar_parts(HEAD, [], TAIL, budget=1000)) == [HEAD + TAIL]


def test_the_zip_streams_one_part_at_a_time_and_zipfile_reads_it_back():
    parts = [bytes([65 + n]) * 50_000 for n in range(5)]

    chunks = list(zipped((f"part-{n}.ics", part) for n, part in enumerate(parts)))

    # One chunk a part, then the central directory: never more than one part held.
    assert len(chunks) == len(parts) + 1
    assert unzipped(b"".join(chunks)) == {f"part-{n}.ics": part for n, part in enumerate(parts)}


# The export's parts -----------------------------------------------------------------------------


@override_settings(EXPORT_PART_MAX_BYTES=4000)
def test_the_parts_hold_exactly_the_single_files_events_byte_for_byte(user):
    SlotFactory.create_batch(40, creator=user, description="d" * 80)
    calendar = dataclasses.replace(export_for(user=user), stamp=STAMP)

    single = b"".join(calendar.chunks(ICalendarRenderer()))
    parts = list(ICalendarPartsRenderer().parts(calendar))

    assert len(parts) > 3
    assert all(len(part) <= 4000 for part in parts)
    head = single[:single.index(b"BEGIN:VEVENT")]
    assert all(part.startswith(head) and part.endswith(TAIL) for part in parts)
    assert [piece for part in parts for piece in vevents(part)] == vevents(single)


# The API ----------------------------------------------------------------------------------------


@override_settings(EXPORT_PART_MAX_BYTES=2000)
def test_accept_zip_gets_the_calendar_as_numbered_parts_in_a_zip(api, user):
    SlotFactory.create_batch(30, creator=user)

    response = export(api, HTTP_ACCEPT=ZIP)
    single = export(api, HTTP_ACCEPT="text/plain")

    assert response.status_code == 200
    assert response["Content-Type"] == ZIP
    assert response["Content-Disposition"] == 'attachment; filename="Timeslot-Export.zip"'
    files = unzipped(response.body)
    assert list(files) == [f"Timeslot-Export-{n:03d}.ics" for n in range(1, len(files) + 1)]
    assert len(files) > 3
    assert all(len(part) <= 2000 for part in files.values())
    assert [uid for part in files.values() for uid in uids(part)] == uids(single.body)


@pytest.mark.parametrize("where", ["body", "query"])
def test_parts_true_asks_for_the_zip_for_clients_that_cannot_set_accept(api, user, where):
    SlotFactory.create_batch(3, creator=user)

    if where == "body":
        response = export(api, ICAL, data={"parts": True}, HTTP_ACCEPT="text/plain")
    else:
        response = export(api, ICAL + "?parts=true", HTTP_ACCEPT="text/plain")

    assert response.status_code == 200
    assert response["Content-Type"] == ZIP
    assert [len(uids(part)) for part in unzipped(response.body).values()] == [3]


def test_parts_that_is_not_a_boolean_is_422(api):
    response = export(api, data={"parts": "several"})

    assert response.status_code == 422
    assert "parts" in response.json()


def test_the_csv_and_the_backup_do_not_come_in_parts(api):
    assert export(api, "/v1/export/outlook", HTTP_ACCEPT=ZIP).status_code == 406
    assert export(api, "/v1/export/timeslot", HTTP_ACCEPT=ZIP).status_code == 406


def test_the_existing_clients_still_get_one_calendar_file_without_a_warning(api, user):
    SlotFactory.create_batch(3, creator=user)

    response = export(api, HTTP_ACCEPT="text/plain")

    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert len(parse_events(response.body)) == 3
    assert "Timeslot-Warning" not in response


def test_a_single_file_certainly_over_the_budget_says_so_and_its_real_size_is_logged(api, user, caplog):
    SlotFactory.create_batch(10, creator=user, description="d" * 300)

    with override_settings(EXPORT_PART_MAX_BYTES=2000), caplog.at_level(logging.WARNING, logger="export.views"):
        response = export(api, HTTP_ACCEPT="text/plain")

    assert response.status_code == 200
    assert response["Timeslot-Warning"] == 'over-import-budget; max-bytes=2000; parts="Accept: application/zip"'
    assert len(parse_events(response.body)) == 10
    assert [f"sent {len(response.body)} bytes in one file" in record.getMessage() for record in caplog.records] == [
        True
    ]


def test_a_file_over_the_budget_only_by_its_long_texts_says_so_too(api, user, caplog):
    # Two events weigh 2000 bytes only by their texts: the count cannot tell, the bytes read before
    # the answer starts do.
    SlotFactory.create_batch(2, creator=user, description="d" * 3000)

    with override_settings(EXPORT_PART_MAX_BYTES=2000), caplog.at_level(logging.WARNING, logger="export.views"):
        response = export(api, HTTP_ACCEPT="text/plain")

    assert response["Timeslot-Warning"] == 'over-import-budget; max-bytes=2000; parts="Accept: application/zip"'
    assert len(response.body) > 2000 and len(parse_events(response.body)) == 2
    assert any("over the import budget of 2000" in record.getMessage() for record in caplog.records)


def test_a_single_file_of_exactly_the_budget_has_no_warning_and_of_one_byte_more_has_one(api, user):
    # Several chunks: the size is known only once they are read.
    SlotFactory.create_batch(300, creator=user, description="d" * 200)
    size = len(export(api, HTTP_ACCEPT="text/plain").body)

    with override_settings(EXPORT_PART_MAX_BYTES=size):
        exactly = export(api, HTTP_ACCEPT="text/plain")
    with override_settings(EXPORT_PART_MAX_BYTES=size - 1):
        one_more = export(api, HTTP_ACCEPT="text/plain")

    assert len(exactly.body) == len(one_more.body) == size > 2 * CHUNK_OCTETS
    assert "Timeslot-Warning" not in exactly
    assert one_more["Timeslot-Warning"] == f'over-import-budget; max-bytes={size - 1}; parts="Accept: application/zip"'


def test_the_answer_waits_for_at_most_the_budget_and_a_chunk(api, user):
    """A small file is read whole before the answer starts (its export log row is written then); one
    of several chunks past the budget is not: the look-ahead stops at the chunk that passes it."""
    SlotFactory.create_batch(40, creator=user, description="d" * 200)
    small = post(api, GOOGLE, None, "json", HTTP_ACCEPT="text/plain")
    read_whole = ExportLog.objects.count()
    b"".join(small.streaming_content)

    SlotFactory.create_batch(400, creator=user, description="d" * 200)
    with override_settings(EXPORT_PART_MAX_BYTES=2000):
        large = post(api, GOOGLE, None, "json", HTTP_ACCEPT="text/plain")
        before_the_body = ExportLog.objects.count()
        body = b"".join(large.streaming_content)

    assert read_whole == 1 and "Timeslot-Warning" not in small
    assert len(body) > 2 * CHUNK_OCTETS and large["Timeslot-Warning"]
    assert before_the_body == 1 and ExportLog.objects.count() == 2


def test_the_zip_itself_carries_no_warning(api, user):
    SlotFactory.create_batch(10, creator=user, description="d" * 300)

    with override_settings(EXPORT_PART_MAX_BYTES=2000):
        response = export(api, HTTP_ACCEPT=ZIP)

    assert "Timeslot-Warning" not in response
    assert sum(len(uids(part)) for part in unzipped(response.body).values()) == 10


# The command ------------------------------------------------------------------------------------


@override_settings(EXPORT_PART_MAX_BYTES=2000)
def test_export_slots_parts_writes_the_zips_parts_into_a_folder(api, user, tmp_path):
    group = SlotGroupFactory(owner=user, name="Team")
    SlotFactory.create_batch(20, creator=user, groups=[group])
    from_api = unzipped(export(api, data={"group": str(group.uuid)}, HTTP_ACCEPT=ZIP).body)

    call_command("export_slots", "--user", user.username, "--group", str(group.uuid), "--parts", str(tmp_path))

    written = {path.name: path.read_bytes() for path in sorted(tmp_path.iterdir())}
    assert list(written) == list(from_api) == [f"Timeslot-Export-team-{n:03d}.ics" for n in range(1, len(written) + 1)]
    assert [without_stamp(part) for part in written.values()] == [without_stamp(part) for part in from_api.values()]
    assert ExportLog.objects.get(kind=ExportLog.Kind.COMMAND).bytes == sum(map(len, written.values()))


def test_export_slots_parts_replaces_the_parts_of_an_earlier_export_and_nothing_else(user, tmp_path):
    SlotFactory.create_batch(20, creator=user)
    with override_settings(EXPORT_PART_MAX_BYTES=2000):
        call_command("export_slots", "--user", user.username, "--parts", str(tmp_path))
    (tmp_path / "notes.txt").write_text("mine")
    assert len(list(tmp_path.iterdir())) > 3

    call_command("export_slots", "--user", user.username, "--parts", str(tmp_path))

    assert sorted(path.name for path in tmp_path.iterdir()) == ["Timeslot-Export-001.ics", "notes.txt"]
    assert len(parse_events((tmp_path / "Timeslot-Export-001.ics").read_bytes())) == 20


def test_export_slots_parts_is_for_the_calendar_only(user, tmp_path, capsys):
    assert run("--user", user.username, "--format", "outlook", "--parts", str(tmp_path)) == 1
    assert "--parts writes a calendar" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
