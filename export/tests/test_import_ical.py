"""iCalendar import: our own export read back, and what other clients write (times, zones, repeats)."""
from datetime import date, datetime, timedelta, timezone
from functools import partial

import pytest
from django.test import override_settings

from export.formats.ical.mapping import all_day_dates
from export.tests import importing
from export.tests.ical_reader import parse_events
from export.tests.importing import calendar, imported, upload
from slots.models import Slot
from slots.tests.factories import SlotFactory, UserFactory

pytestmark = pytest.mark.django_db

UTC = timezone.utc
exported = partial(importing.exported, format="ical")
CUSTOM_ZONE = """BEGIN:VTIMEZONE
TZID:Custom Zone
BEGIN:STANDARD
DTSTART:16010101T000000
TZOFFSETFROM:{offset}
TZOFFSETTO:{offset}
END:STANDARD
END:VTIMEZONE"""


def only_slot(user=None) -> Slot:
    return Slot.objects.get() if user is None else Slot.objects.get(creator=user)


# Our own export --------------------------------------------------------------------------------


@pytest.fixture
def varied_slots(user):
    """Slots of every shape the export writes."""
    lisbon = "Europe/Lisbon"
    return [
        SlotFactory(creator=user, title="Timed", visibility="public", description="two\nlines; a, b\\c"),
        SlotFactory(creator=user, title="Open", end=None, visibility="friends", location="Café 東京 🚀"),
        SlotFactory(creator=user, title="Moment", start=datetime(2026, 7, 1, 9, tzinfo=UTC),
                    end=datetime(2026, 7, 1, 9, tzinfo=UTC)),
        SlotFactory(
            creator=user, title="Holidays", all_day=True, time_zone=lisbon,
            start=datetime(2026, 7, 23, 23, tzinfo=UTC), end=datetime(2026, 7, 25, 23, tzinfo=UTC),
        ),
        SlotFactory(creator=user, title="Open day", all_day=True, time_zone=lisbon,
                    start=datetime(2026, 7, 30, 23, tzinfo=UTC), end=None),
    ]


def test_our_export_imported_by_its_user_changes_nothing(api, user, varied_slots):
    before = list(Slot.objects.values())

    result = imported(api, exported(api))

    assert (result["created"], result["updated"]) == (0, 0)
    assert result["unchanged"] == len(varied_slots)
    # Nothing moved, not even the Lisbon all-day dates, and no slot was filed in "Imports".
    assert list(Slot.objects.values()) == before
    assert not Slot.groups.through.objects.exists()


def test_our_export_imported_by_another_user_exports_the_same_calendar(api, user, client_for, varied_slots):
    first = exported(api)
    other = client_for(UserFactory(username="ines"))

    imported(other, first)

    def comparable(data: bytes) -> list[dict]:
        events = parse_events(data)
        kept = ("SUMMARY", "DESCRIPTION", "LOCATION", "DTSTART", "DTEND", "DURATION", "CLASS")
        return sorted(
            ({name: event.get(name).to_ical() for name in kept if name in event} for event in events),
            key=lambda event: event["SUMMARY"],
        )

    assert comparable(exported(other)) == comparable(first)


def test_open_ends_come_back_open(api, client_for, varied_slots):
    other = UserFactory(username="ines")

    imported(client_for(other), exported(api))

    open_slots = Slot.objects.filter(creator=other, end__isnull=True)
    assert sorted(open_slots.values_list("title", "all_day")) == [("Open", False), ("Open day", True)]


def test_a_slot_that_ends_as_it_starts_comes_back_ending_as_it_starts(api, client_for, varied_slots):
    other = UserFactory(username="ines")

    imported(client_for(other), exported(api))

    moment = Slot.objects.get(creator=other, title="Moment")
    assert moment.end == moment.start == datetime(2026, 7, 1, 9, tzinfo=UTC)


# Times and zones -------------------------------------------------------------------------------


def test_floating_times_are_read_in_the_calendars_zone(api):
    imported(api, calendar("UID:a\nDTSTART:20260707T090000", head="X-WR-TIMEZONE:Europe/Berlin"))

    slot = only_slot()
    assert slot.start == datetime(2026, 7, 7, 7, tzinfo=UTC)
    assert slot.time_zone == "Europe/Berlin"


@override_settings(TIME_ZONE="UTC")
def test_floating_times_without_a_calendar_zone_are_read_in_the_import_default(api):
    imported(api, calendar("UID:a\nDTSTART:20260707T090000"))

    assert (only_slot().start, only_slot().time_zone) == (datetime(2026, 7, 7, 9, tzinfo=UTC), "UTC")


def test_floating_times_are_read_in_the_time_zone_the_import_names(api):
    imported(api, calendar("UID:a\nDTSTART:20260707T090000"), time_zone="America/Sao_Paulo")

    assert (only_slot().start, only_slot().time_zone) == (datetime(2026, 7, 7, 12, tzinfo=UTC), "America/Sao_Paulo")


def test_a_windows_tzid_without_a_vtimezone_is_its_iana_zone(api):
    imported(api, calendar("UID:a\nDTSTART;TZID=W. Europe Standard Time:20260107T090000"))

    assert (only_slot().start, only_slot().time_zone) == (datetime(2026, 1, 7, 8, tzinfo=UTC), "Europe/Berlin")


def test_an_unknown_tzid_is_read_as_floating_with_a_warning(api):
    result = imported(api, calendar("UID:a\nDTSTART;TZID=Nowhere:20260107T090000", head="X-WR-TIMEZONE:Asia/Tokyo"))

    assert only_slot().start == datetime(2026, 1, 7, 0, tzinfo=UTC)
    assert result["warnings"] == [{
        "where": "line 5",
        "warning": "DTSTART's TZID 'Nowhere' is not defined in the file nor a known zone: read in Asia/Tokyo.",
    }]


def test_one_files_vtimezone_does_not_bend_the_next_files_times(api, client_for):
    # icalendar keeps VTIMEZONEs in a process-wide table by TZID: the first file's
    # definition of "Custom Zone" must not place the second file's times.
    event = "UID:a\nDTSTART;TZID=Custom Zone:20260107T120000"
    imported(api, calendar(event, head=CUSTOM_ZONE.format(offset="+1400")))
    other = UserFactory(username="ines")

    imported(client_for(other), calendar(event, head=CUSTOM_ZONE.format(offset="-0500")))

    assert only_slot(other).start == datetime(2026, 1, 7, 17, tzinfo=UTC)


def test_a_zone_defined_after_the_events_still_places_them(api):
    data = calendar("UID:a\nDTSTART;TZID=Custom Zone:20260107T120000")
    zone = CUSTOM_ZONE.format(offset="+0300").replace("\n", "\r\n")
    data = data.replace("END:VCALENDAR", zone + "\r\nEND:VCALENDAR")

    imported(api, data)

    assert only_slot().start == datetime(2026, 1, 7, 9, tzinfo=UTC)


def test_an_unknown_calendar_zone_is_a_warning(api):
    result = imported(api, calendar("UID:a\nDTSTART:20260707T090000", head="X-WR-TIMEZONE:Atlantis"))

    assert result["warnings"][0]["where"] == "file"
    assert "Atlantis" in result["warnings"][0]["warning"]


def test_all_day_dates_are_placed_in_the_calendars_zone(api):
    imported(api, calendar(
        "UID:a\nDTSTART;VALUE=DATE:20261224\nDTEND;VALUE=DATE:20261226", head="X-WR-TIMEZONE:Pacific/Auckland"
    ))

    slot = only_slot()
    assert slot.all_day and slot.time_zone == "Pacific/Auckland"
    assert slot.start == datetime(2026, 12, 23, 11, tzinfo=UTC)
    assert all_day_dates(slot.start, slot.end, slot.time_zone) == (date(2026, 12, 24), date(2026, 12, 26))


# Ends ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, end", [
    ("DTSTART:20260707T090000Z", None),
    ("DTSTART:20260707T090000Z\nDURATION:PT0S", None),
    ("DTSTART:20260707T090000Z\nDURATION;X-TIMESLOT-ZERO-LENGTH=TRUE:PT0S", datetime(2026, 7, 7, 9, tzinfo=UTC)),
    ("DTSTART:20260707T090000Z\nDURATION:PT1H30M", datetime(2026, 7, 7, 10, 30, tzinfo=UTC)),
    ("DTSTART:20260707T090000Z\nDTEND:20260707T090000Z", datetime(2026, 7, 7, 9, tzinfo=UTC)),
])
def test_a_timed_events_end(api, body, end):
    imported(api, calendar(f"UID:a\n{body}"))

    assert only_slot().end == end


def test_a_duration_in_days_keeps_the_wall_clock_time_across_a_change_of_offset(api):
    # Berlin moves to summer time on March 29, 2026: one nominal day is 23 hours.
    imported(api, calendar("UID:a\nDTSTART;TZID=Europe/Berlin:20260328T090000\nDURATION:P1D"))

    slot = only_slot()
    assert slot.end - slot.start == timedelta(hours=23)


@pytest.mark.parametrize("body, days", [
    ("DTSTART;VALUE=DATE:20260707", None),
    ("DTSTART;VALUE=DATE:20260707\nDURATION:P1D", None),
    ("DTSTART;VALUE=DATE:20260707\nDURATION:P3D", (date(2026, 7, 7), date(2026, 7, 10))),
    ("DTSTART;VALUE=DATE:20260707\nDTEND;VALUE=DATE:20260708", (date(2026, 7, 7), date(2026, 7, 8))),
])
def test_an_all_day_events_end(api, body, days):
    imported(api, calendar(f"UID:a\n{body}"))

    slot = only_slot()
    assert slot.all_day
    assert (None if slot.end is None else all_day_dates(slot.start, slot.end, slot.time_zone)) == days


@pytest.mark.parametrize("body, problem", [
    ("DTSTART:20260707T090000Z\nDTEND:20260707T080000Z", "DTEND is before DTSTART."),
    ("DTSTART:20260707T090000Z\nDURATION:-PT1H", "DURATION is negative."),
    ("DTSTART:20260707T090000Z\nDTEND:20260707T100000Z\nDURATION:PT1H",
     "The event has both DTEND and DURATION (RFC 5545 §3.6.1 allows one)."),
    ("DTSTART;VALUE=DATE:20260707\nDTEND:20260708T000000Z", "DTEND must be a date, like DTSTART."),
    ("DTSTART;VALUE=DATE:20260707\nDURATION:PT12H", "An all-day event's DURATION must be whole days."),
])
def test_an_impossible_end_is_a_problem_at_the_events_line(api, body, problem):
    response = upload(api, calendar(f"UID:a\n{body}"))

    assert response.status_code == 422
    assert response.json()["problems"] == [{"where": "line 4", "problem": problem}]


# Text, visibility, identity --------------------------------------------------------------------


@pytest.mark.parametrize("klass, visibility", [
    ("CLASS:PUBLIC", "public"), ("CLASS:CONFIDENTIAL", "friends"), ("CLASS:PRIVATE", "private"),
    ("CLASS:X-SECRET", "private"), ("", "private"),
])
def test_class_becomes_visibility(api, klass, visibility):
    imported(api, calendar(f"UID:a\nDTSTART:20260707T090000Z\n{klass}"))

    assert only_slot().visibility == visibility


def test_folded_escaped_non_ascii_text_is_read_whole(api):
    title = "Réunion 東京 " * 8
    folded = "SUMMARY:" + title.replace("東京", "東\r\n 京")
    imported(api, calendar(f"UID:a\nDTSTART:20260707T090000Z\n{folded}\nDESCRIPTION:a\\, b\\; c\\nd\\\\e"))

    slot = only_slot()
    assert slot.title == title
    assert slot.description == "a, b; c\nd\\e"


def test_an_event_without_uid_is_known_by_its_content(api):
    data = calendar("SUMMARY:No UID\nDTSTART:20260707T090000Z\nDTSTAMP:20260101T000000Z")
    imported(api, data)

    result = imported(api, data.replace("DTSTAMP:20260101", "DTSTAMP:20270101"))

    assert (result["created"], result["unchanged"]) == (0, 1)


def test_identical_events_without_uid_are_slots_of_their_own(api):
    data = calendar(*["SUMMARY:Standup\nDTSTART:20260707T090000Z"] * 2)

    assert imported(api, data)["created"] == 2
    assert imported(api, data)["unchanged"] == 2


# Repeating events ------------------------------------------------------------------------------


def test_a_changed_occurrence_without_its_series_is_an_event_of_its_own(api):
    imported(api, calendar("UID:s\nSUMMARY:Only this one\nRECURRENCE-ID:20260709T090000Z\nDTSTART:20260709T110000Z"))

    assert only_slot().title == "Only this one"


# Broken files ----------------------------------------------------------------------------------


def test_a_calendar_cut_short_is_refused_naming_the_component_never_ended(api):
    data = calendar("UID:a\nDTSTART:20260707T090000Z")

    response = upload(api, data[: data.index("END:VEVENT")])

    assert response.status_code == 422
    # Line 4 is the BEGIN:VEVENT that no END:VEVENT follows.
    assert response.json()["problems"] == [{
        "where": "line 4", "problem": "The calendar is cut short, or its BEGIN and END lines do not pair up.",
    }]


def test_an_end_without_begin_is_refused_naming_its_line(api):
    response = upload(api, calendar("UID:a\nDTSTART:20260707T090000Z") + "END:VEVENT\r\n")

    assert response.status_code == 422
    # Line 9 is the END:VEVENT after END:VCALENDAR.
    assert response.json()["problems"][0]["where"] == "line 9"


def test_a_file_defining_too_many_zones_is_refused_before_parsing(api):
    zones = "\n".join(CUSTOM_ZONE.replace("Custom Zone", f"Zone {n}").format(offset="+0100") for n in range(101))

    response = upload(api, calendar("UID:a\nDTSTART:20260707T090000Z", head=zones))

    assert response.status_code == 422
    assert "101 time zones" in response.json()["problems"][0]["problem"]


def test_a_zone_rule_with_an_interval_no_rule_can_have_is_refused_at_its_line(api):
    # issue_165_missing_event.ics's zone, with an interval no rule can have.
    broken = "\n".join([
        "BEGIN:VTIMEZONE", "TZID:Custom Zone",
        "BEGIN:STANDARD", "DTSTART:16010101T030000", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100",
        "RRULE:FREQ=YEARLY;INTERVAL=-1;BYMONTH=10;BYDAY=-1SU", "END:STANDARD",
        "BEGIN:DAYLIGHT", "DTSTART:16010101T020000", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200",
        "RRULE:FREQ=YEARLY;INTERVAL=1;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT",
        "END:VTIMEZONE",
    ])

    response = upload(api, calendar("UID:a\nDTSTART;TZID=Custom Zone:20260107T120000", head=broken))

    assert response.status_code == 422
    assert response.json()["problems"] == [{
        "where": "line 10", "problem": "A time zone's observance repeats every year (INTERVAL=1).",
    }]


def test_a_zone_whose_rules_cannot_be_run_is_a_problem_of_the_event(api):
    # Leap days only, a thousand of them: the rule runs past the year 9999 before it ends.
    broken = "\n".join([
        "BEGIN:VTIMEZONE", "TZID:Custom Zone",
        "BEGIN:STANDARD", "DTSTART:16010101T030000", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "END:STANDARD",
        "BEGIN:DAYLIGHT", "DTSTART:16040229T020000", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200",
        "RRULE:FREQ=YEARLY;COUNT=1000;BYMONTH=2;BYMONTHDAY=29", "END:DAYLIGHT",
        "END:VTIMEZONE",
    ])

    response = upload(api, calendar("UID:a\nDTSTART;TZID=Custom Zone:99980107T120000", head=broken))

    assert response.status_code == 422
    (problem,) = response.json()["problems"]
    assert problem["where"] == "line 18"
    assert problem["problem"].startswith("DTSTART cannot be placed in TZID 'Custom Zone'")
