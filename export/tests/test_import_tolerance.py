"""iCalendar import of what real files hold besides what a slot is made of: values it cannot read that it does
not need (warnings on their lines), zone names with a vendor's path, and what a slot cannot hold (reported)."""
from datetime import datetime, timezone

import pytest

from export.tests.importing import calendar, imported, problems
from slots.models import Slot

pytestmark = pytest.mark.django_db

UTC = timezone.utc
TIMED = "DTSTART:20260107T090000Z\nDTEND:20260107T100000Z"


def event(uid: str, *lines: str, times: str = TIMED) -> str:
    return "\n".join([f"UID:{uid}", f"SUMMARY:Event {uid}", times, *lines])


# Values that cannot be read ----------------------------------------------------------------------


def test_googles_created_of_the_year_zero_is_a_warning_on_its_line_and_every_event_is_imported(api, user):
    data = calendar(event("a"), event("b", "CREATED:00001231T000000Z"), event("c"))

    result = imported(api, data)

    assert result["created"] == 3
    assert result["warnings"] == [{
        "where": "line 15",
        "warning": "CREATED could not be read: Wrong datetime format: 00001231T000000Z. It was left out: a slot "
        "does not use it.",
    }]
    assert data.splitlines()[14] == "CREATED:00001231T000000Z"
    assert Slot.objects.get(source_uid="b").start == datetime(2026, 1, 7, 9, tzinfo=UTC)


@pytest.mark.parametrize("line", [
    "LAST-MODIFIED:yesterday", "DTSTAMP:now", "SEQUENCE:first", "PRIORITY:high", "GEO:here",
    "EXDATE;VALUE=DATE:", "EXDATE:", "X-MADE-UP;BROKEN\"PARAMETER:1", "ATTENDEE;CN=\"unclosed:mailto:a@example.com",
])
def test_an_unreadable_value_the_slot_does_not_use_is_a_warning_on_its_line(api, user, line):
    data = calendar(event("a", line))

    result = imported(api, data)

    (warning,) = [warning for warning in result["warnings"] if "could not be read" in warning["warning"]]
    number = int(warning["where"].split()[1])
    assert data.splitlines()[number - 1] == line
    assert warning["warning"].endswith("It was left out: a slot does not use it.")
    assert Slot.objects.get(creator=user).title == "Event a"


@pytest.mark.parametrize(("line", "starts"), [
    ("DTEND:tomorrow", "DTEND could not be read"),
    ("RECURRENCE-ID:the first", "RECURRENCE-ID could not be read"),
    ("EXDATE:20260108T090000Z,someday", "EXDATE could not be read"),
    ("RDATE:someday", "RDATE could not be read"),
    ("SUMMARY;LANGUAGE=\"en:Title", "A line could not be read"),
    ("LOCATION;ALTREP=\"x:Room", "A line could not be read"),
])
def test_an_unreadable_value_the_slot_needs_is_422_naming_the_event(api, line, starts):
    data = calendar(event("a", line, times="DTSTART:20260107T090000Z"))

    (problem,) = problems(api, data)

    assert problem["where"] == "line 4" and problem["problem"].startswith(starts), problem
    assert not Slot.objects.exists()


def test_an_unreadable_duration_is_422(api):
    (problem,) = problems(api, calendar(event("a", "DURATION:P1X", times="DTSTART:20260107T090000Z")))

    assert problem == {"where": "line 4", "problem": "DURATION could not be read: Invalid iCalendar duration: P1X"}


def test_the_second_of_two_exdates_is_the_one_warned_about(api):
    data = calendar(event("a", "RRULE:FREQ=DAILY;COUNT=3", "EXDATE:20260108T090000Z", "EXDATE;VALUE=DATE:"))

    result = imported(api, data)

    (warning,) = [warning for warning in result["warnings"] if "EXDATE" in warning["warning"]]
    assert warning["where"] == "line 11"
    assert data.splitlines()[10] == "EXDATE;VALUE=DATE:"


def test_a_long_unreadable_value_is_quoted_short(api):
    result = imported(api, calendar(event("a", "CREATED:" + "9" * 100_000)))

    (warning,) = result["warnings"]
    assert len(warning["warning"]) < 300


@pytest.mark.parametrize("component", [
    ["BEGIN:VTODO", "UID:t", "DUE:someday", "END:VTODO"],
    ["BEGIN:VJOURNAL", "UID:j", "DTSTART:someday", "END:VJOURNAL"],
])
def test_a_component_beside_the_events_with_an_unreadable_value_refuses_nothing(api, user, component):
    data = calendar(event("a")).replace("END:VCALENDAR", "\r\n".join([*component, "END:VCALENDAR"]))

    result = imported(api, data)

    assert result["created"] == 1


def test_an_alarm_with_an_unreadable_trigger_refuses_nothing(api, user):
    result = imported(api, calendar(event("a", "BEGIN:VALARM", "ACTION:DISPLAY", "TRIGGER:soon", "END:VALARM")))

    assert result["created"] == 1
    assert result["warnings"] == [
        {"where": "file", "warning": "1 alarm (VALARM) of 1 event was not imported: a slot has no alarms."}
    ]


def test_a_zone_with_an_unreadable_offset_is_still_refused(api):
    zone = "\n".join(["BEGIN:VTIMEZONE", "TZID:Custom", "BEGIN:STANDARD", "DTSTART:16010101T000000",
                      "TZOFFSETFROM:+0100", "TZOFFSETTO:one hour", "END:STANDARD", "END:VTIMEZONE"])

    (problem,) = problems(api, calendar(event("a", times="DTSTART;TZID=Custom:20260107T090000"), head=zone))

    assert problem["problem"].startswith("Not a readable iCalendar file")


# Zone names with a vendor's path -------------------------------------------------------------------


@pytest.mark.parametrize(("tzid", "zone", "start"), [
    ("/Europe/Stockholm", "Europe/Stockholm", datetime(2026, 1, 7, 8, tzinfo=UTC)),
    ("/freeassociation.sourceforge.net/Europe/Berlin", "Europe/Berlin", datetime(2026, 1, 7, 8, tzinfo=UTC)),
    ("/freeassociation.sourceforge.net/Tzfile/Europe/Berlin", "Europe/Berlin", datetime(2026, 1, 7, 8, tzinfo=UTC)),
    ("/mozilla.org/20070129_1/America/New_York", "America/New_York", datetime(2026, 1, 7, 14, tzinfo=UTC)),
    ("/citadel.org/20190914_1/America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires",
     datetime(2026, 1, 7, 12, tzinfo=UTC)),
    ("W. Europe Standard Time", "Europe/Berlin", datetime(2026, 1, 7, 8, tzinfo=UTC)),
])
def test_a_tzid_without_a_vtimezone_is_the_iana_zone_it_names(api, user, tzid, zone, start):
    result = imported(api, calendar(event("a", times=f"DTSTART;TZID={tzid}:20260107T090000")))

    slot = Slot.objects.get(creator=user)
    assert (slot.start, slot.time_zone) == (start, zone)
    assert result["warnings"] == []


def test_a_prefixed_tzid_the_file_defines_is_placed_by_its_definition_in_the_zone_it_names(api, user):
    zone = "\n".join(["BEGIN:VTIMEZONE", "TZID:/mozilla.org/20070129_1/Europe/Lisbon", "BEGIN:STANDARD",
                      "DTSTART:16010101T000000", "TZOFFSETFROM:+0300", "TZOFFSETTO:+0300", "END:STANDARD",
                      "END:VTIMEZONE"])

    imported(api, calendar(event("a", times="DTSTART;TZID=/mozilla.org/20070129_1/Europe/Lisbon:20260107T090000"),
                           head=zone))

    slot = Slot.objects.get(creator=user)
    # The file's own +03:00, not Lisbon's winter time; the slot lives in the zone the name ends with.
    assert (slot.start, slot.time_zone) == (datetime(2026, 1, 7, 6, tzinfo=UTC), "Europe/Lisbon")


@pytest.mark.parametrize("tzid", ["Nowhere", "/vendor.example/Nowhere/Else", "Europe/Berlin/x", "/" * 10_000 + "x"])
def test_a_tzid_that_cannot_be_placed_is_422_naming_its_line_when_the_calendar_names_no_zone(api, tzid):
    data = calendar(event("a", times=f"DTSTART;TZID={tzid}:20260107T090000"))

    (problem,) = problems(api, data)

    assert problem["where"] == "line 4"
    assert problem["problem"].startswith("DTSTART's TZID ")
    assert problem["problem"].endswith("name the zone its times are in with the import's time_zone, or X-WR-TIMEZONE.")
    assert len(problem["problem"]) < 300
    assert not Slot.objects.exists()


def test_a_tzid_that_cannot_be_placed_is_read_in_the_zone_the_import_names_with_a_warning(api, user):
    data = calendar(event("a", times="DTSTART;TZID=/vendor.example/Nowhere:20260107T090000"))

    result = imported(api, data, time_zone="Asia/Tokyo")

    assert Slot.objects.get(creator=user).start == datetime(2026, 1, 7, 0, tzinfo=UTC)
    assert [warning["where"] for warning in result["warnings"]] == ["line 4"]


# What a slot cannot hold -------------------------------------------------------------------------


def test_what_a_slot_cannot_hold_is_one_warning_of_each_kind_with_its_count(api, user):
    alarm = ["BEGIN:VALARM", "ACTION:DISPLAY", "TRIGGER:-PT15M", "DESCRIPTION:Soon", "END:VALARM"]
    todos = "\r\n".join(f"BEGIN:VTODO\r\nUID:t{n}\r\nSUMMARY:To do {n}\r\nEND:VTODO" for n in range(3))
    journal = "BEGIN:VJOURNAL\r\nUID:j\r\nSUMMARY:Notes\r\nEND:VJOURNAL"
    data = calendar(
        event("a", "ATTENDEE:mailto:a@example.com", "ATTENDEE:mailto:b@example.com", "ORGANIZER:mailto:o@example.com",
              "CATEGORIES:Work,Travel", "CATEGORIES:Urgent", *alarm, *alarm),
        event("b", "ATTENDEE:mailto:c@example.com", "URL:https://example.com/b", *alarm,
              "ATTACH:https://example.com/agenda.pdf"),
        event("c"),
    ).replace("END:VCALENDAR", f"{todos}\r\n{journal}\r\nEND:VCALENDAR")

    result = imported(api, data)

    assert result["created"] == 3
    assert result["warnings"] == [
        {"where": "file", "warning": "3 to-dos (VTODO) were not imported: a slot holds events only."},
        {"where": "file", "warning": "1 journal entry (VJOURNAL) was not imported: a slot holds events only."},
        {"where": "file", "warning": "3 attendees (ATTENDEE) of 2 events were not imported: a slot has no attendees."},
        {"where": "file", "warning": "1 organizer (ORGANIZER) of 1 event was not imported: a slot has no organizer."},
        {"where": "file",
         "warning": "3 categories (CATEGORIES) of 1 event were not imported: a slot has no categories."},
        {"where": "file", "warning": "1 attachment (ATTACH) of 1 event was not imported: a slot has no attachments."},
        {"where": "file", "warning": "1 link (URL) of 1 event was not imported: a slot has no link."},
        {"where": "file", "warning": "3 alarms (VALARM) of 2 events were not imported: a slot has no alarms."},
    ]


def test_a_file_of_to_dos_only_says_it_holds_no_events_and_what_it_left_out(api):
    data = calendar().replace("END:VCALENDAR", "BEGIN:VTODO\r\nUID:t\r\nEND:VTODO\r\nEND:VCALENDAR")

    result = imported(api, data)

    assert result["warnings"] == [
        {"where": "file", "warning": "1 to-do (VTODO) was not imported: a slot holds events only."},
        {"where": "file", "warning": "The file holds no events."},
    ]


def test_many_events_with_attendees_are_still_one_warning(api):
    data = calendar(*(event(str(n), "ATTENDEE:mailto:a@example.com") for n in range(500)))

    result = imported(api, data)

    assert result["warnings"] == [{
        "where": "file",
        "warning": "500 attendees (ATTENDEE) of 500 events were not imported: a slot has no attendees.",
    }]


def test_an_event_with_many_unreadable_values_warns_of_a_few_and_counts_the_rest(api):
    data = calendar(event("a", *(f"CREATED:{n}" for n in range(1000))))

    result = imported(api, data)

    warnings = result["warnings"]
    assert [warning["where"] for warning in warnings] == [f"line {n}" for n in range(9, 14)] + ["line 4"]
    assert warnings[-1]["warning"] == ("... and 995 more of the event's values could not be read; they were left "
                                       "out: a slot does not use them.")


def test_made_up_component_names_are_forgotten_after_the_import(api):
    from icalendar import Calendar

    names = [f"X-MADE-UP-{n}" for n in range(3)]
    made_up = "\r\n".join(f"BEGIN:{name}\r\nX-A:1\r\nEND:{name}" for name in names)

    imported(api, calendar(event("a")).replace("END:VCALENDAR", f"{made_up}\r\nEND:VCALENDAR"))

    # icalendar's own table of component classes, which lives as long as the process, learned none of them.
    assert not set(names) & set(Calendar._get_component_factory())


def test_categories_are_counted_at_the_commas_they_do_not_escape(api):
    # icalendar's own test calendar (issue_127_categories_with_commas.ics) writes categories so.
    data = calendar(event("a", r"CATEGORIES:Meeting\, John,Work\, Sarah,Project"))

    assert imported(api, data)["warnings"] == [{
        "where": "file",
        "warning": "3 categories (CATEGORIES) of 1 event were not imported: a slot has no categories.",
    }]


def test_an_end_that_misnames_its_component_closes_it_as_icalendar_reads_it(api, user):
    # As icalendar's timezone_same_start_and_offset.ics and recurring-ical-events' issue_201_test_matrix.ics
    # write them: "END:VTOOD", "END:VCALENDARD".
    data = calendar(event("a"), event("b")).replace(
        "BEGIN:VEVENT", "BEGIN:VTODO\r\nUID:t\r\nEND:VTOOD\r\nBEGIN:VEVENT", 1
    ).replace("END:VCALENDAR", "END:VCALENDARD")

    result = imported(api, data)

    assert result["created"] == 2
    assert sorted(Slot.objects.values_list("source_uid", flat=True)) == ["a", "b"]


def test_an_edited_occurrence_without_a_uid_or_its_series_is_one_slot(api, user):
    # khal's RDATE of periods in icalendar's issue_156_RDATE_with_PERIOD_TZID_khal.ics, shortened: no UID,
    # a RECURRENCE-ID and RDATEs, nothing else of its series.
    data = calendar("\n".join([
        "SUMMARY:Event", "DTSTART;TZID=America/Chicago:20180327T080000", "DTEND;TZID=America/Chicago:20180327T090000",
        "RECURRENCE-ID;RANGE=THISANDFUTURE:20180327T130000Z", "SEQUENCE:10",
        'RDATE;TZID="Central Standard Time";VALUE=PERIOD:20180327T080000/20180327T090000,'
        "20180403T080000/20180403T090000",
    ]))

    result = imported(api, data)

    assert result["created"] == 1
    (slot,) = Slot.objects.all()
    assert (slot.title, slot.start) == ("Event", datetime(2018, 3, 27, 13, tzinfo=UTC))
