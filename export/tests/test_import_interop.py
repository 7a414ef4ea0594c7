"""Every calendar that icalendar ships imported through POST /v1/import: real exports in, broken files refused."""
import re
import zoneinfo
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from export.formats.ical.mapping import all_day_dates
from export.tests import importing
from export.tests.importing import (
    interop,
    interop_names,
    recurring,
    recurring_names,
    upload,
    weekdays_in_window,
    window_days,
)
from slots.models import Slot, SlotGroup

pytestmark = pytest.mark.django_db

UTC = timezone.utc
ZURICH = zoneinfo.ZoneInfo("Europe/Zurich")

# File: the number of slots it gives.
GOOD = {
    "alarm_google_future.ics": 1,
    "alarm_thunderbird_future.ics": 1,
    "america_new_york.ics": 1,
    "bom_calendar.ics": 0,
    "calendar_with_unicode.ics": 0,
    "example.ics": 3,
    "issue_165_missing_event.ics": 1,
    "issue_313_globally_unique_tzid.ics": 3,
    # "Just chatting", Fridays at 20:00 in Stockholm from 2022, no end.
    "issue_466_convert_tzid_with_slash.ics": weekdays_in_window((4,)),
    "issue_836_do_not_quote_tzid.ics": 1,
    # Google's two daily series of March 2008, long before the import's window: read, no slot.
    "parsing_error.ics": 0,
    "timezone_same_start.ics": 1,
    # Google's "Daily Sync" (from 2016, Mondays to Fridays, no end): its occurrences in the import's window.
    "x_location.ics": weekdays_in_window(),
}
# File: the problems' lines (where each broken VEVENT begins).
BROKEN = {
    "broken_dtstart.ics": ["line 4"],
    "broken_ical.ics": ["line 2", "line 2"],
    "issue_722_missing_VTIMEZONE_custom.ics": ["line 2"],
}


def imported(api, name: str) -> dict:
    return importing.imported(api, interop(name), name)


def the_slot(user, title: str) -> Slot:
    return Slot.objects.get(creator=user, title=title)


def test_the_files_tested_one_by_one_are_among_those_icalendar_ships():
    names = interop_names()

    assert len(names) >= 100
    assert set(GOOD) | set(BROKEN) <= set(names)


# Every calendar of the two packages' tests: icalendar's, and recurring-ical-events', which adds its
# own series and the files of its users' bug reports.
SHIPPED = [*(("icalendar", name) for name in interop_names()),
           *(("recurring-ical-events", name) for name in recurring_names())]


def test_both_packages_ship_their_calendars():
    assert len([name for package, name in SHIPPED if package == "icalendar"]) >= 100
    assert len([name for package, name in SHIPPED if package == "recurring-ical-events"]) >= 90


@pytest.mark.parametrize(("package", "name"), SHIPPED)
def test_every_calendar_the_packages_ship_imports_or_is_refused_naming_a_line(api, user, package, name):
    content = interop(name) if package == "icalendar" else recurring(name)
    response = upload(api, content, name=name)

    assert response.status_code in (200, 422), response.content
    assert response["Content-Type"] == "application/json"
    if response.status_code == 200:
        assert Slot.objects.filter(creator=user).count() == response.json()["created"]
        return
    assert not Slot.objects.exists() and not SlotGroup.objects.exists()
    lines = len(content.splitlines())
    for problem in response.json()["problems"]:
        if problem["problem"].startswith("Unknown format"):
            # Not a calendar at all (a fuzzer's bytes, jCal): no line of it is to blame more than another.
            assert problem["where"] == "file"
        else:
            assert re.fullmatch(r"line [1-9][0-9]*", problem["where"]), problem
            assert int(problem["where"].split()[1]) <= lines


@pytest.mark.parametrize("name", sorted(GOOD))
def test_a_real_export_imports_its_events(api, user, name):
    result = imported(api, name)

    assert (result["created"], result["updated"], result["unchanged"]) == (GOOD[name], 0, 0)
    assert Slot.objects.filter(creator=user).count() == GOOD[name]


@pytest.mark.parametrize("name", sorted(GOOD))
def test_a_real_export_imported_twice_changes_nothing_the_second_time(api, user, name):
    imported(api, name)
    before = list(Slot.objects.filter(creator=user).values())

    result = imported(api, name)

    assert (result["created"], result["updated"], result["unchanged"]) == (0, 0, GOOD[name])
    assert list(Slot.objects.filter(creator=user).values()) == before


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_file_is_422_with_the_lines_of_its_problems_and_writes_nothing(api, user, name):
    response = upload(api, interop(name), name=name)

    assert response.status_code == 422
    assert [problem["where"] for problem in response.json()["problems"]] == BROKEN[name]
    assert not Slot.objects.exists()
    assert not SlotGroup.objects.exists()


def test_broken_dtstart_names_the_property_and_its_value(api):
    (problem,) = upload(api, interop("broken_dtstart.ics")).json()["problems"]

    assert problem["problem"].startswith("DTSTART could not be read") and "INVALID-DATE" in problem["problem"]


def test_broken_ical_says_the_line_was_unreadable_and_dtstart_is_missing(api):
    problems = [problem["problem"] for problem in upload(api, interop("broken_ical.ics")).json()["problems"]]

    assert "DTSTART;;VALUE=DATE-TIME:20140409T093000" in problems[0]
    assert problems[1] == "The event has no DTSTART."


def test_an_empty_exdate_is_left_out_with_a_warning_on_its_line_and_both_series_are_read(api, user):
    result = imported(api, "parsing_error.ics")

    assert {
        "where": "line 19",
        "warning": "EXDATE could not be read: Expected datetime, date, or time. Got: ''. It was left out: a slot "
        "does not use it.",
    } in result["warnings"]
    # Both are expanded alike, the one with the empty EXDATE too, and both ended in 2008, before the window.
    assert [(series["where"], series["occurrences"]) for series in result["series"]] == [("line 6", 0), ("line 13", 0)]
    assert not any("first occurrence" in warning["warning"] for warning in result["warnings"])


def test_a_tzid_neither_defined_nor_known_is_refused_naming_it_when_the_calendar_names_no_zone(api):
    (problem,) = upload(api, interop("issue_722_missing_VTIMEZONE_custom.ics")).json()["problems"]

    assert problem["problem"].startswith("DTSTART's TZID 'CUSTOM_tzid' is neither a zone the file defines")


def test_the_same_unknown_tzid_is_read_in_the_zone_the_import_names_with_a_warning(api, user):
    result = importing.imported(api, interop("issue_722_missing_VTIMEZONE_custom.ics"), time_zone="Asia/Tokyo")

    # 08:00 in Tokyo is 23:00 UTC the day before.
    assert Slot.objects.get(creator=user).start == datetime(2014, 8, 28, 23, tzinfo=UTC)
    assert result["warnings"] == [{
        "where": "line 2",
        "warning": "DTSTART's TZID 'CUSTOM_tzid' is not defined in the file nor a known zone: read in Asia/Tokyo.",
    }]


def test_globally_unique_tzids_of_libical_and_lightning_are_their_iana_zones(api, user):
    imported(api, "issue_313_globally_unique_tzid.ics")

    slots = {slot.source_uid: slot for slot in Slot.objects.filter(creator=user)}
    placed = {uid: (slot.start, slot.end, slot.time_zone) for uid, slot in slots.items()}
    # 14:00 on April 26, 2020: CEST (UTC+2) in Berlin, EDT (UTC-4) in New York, UTC-3 in Buenos Aires.
    assert placed == {
        "libical-evolution@issue-313": (
            datetime(2020, 4, 26, 12, tzinfo=UTC), datetime(2020, 4, 26, 13, tzinfo=UTC), "Europe/Berlin"),
        "mozilla-lightning@issue-313": (
            datetime(2020, 4, 26, 18, tzinfo=UTC), datetime(2020, 4, 26, 19, tzinfo=UTC), "America/New_York"),
        "multipart-olson@issue-313": (
            datetime(2020, 4, 26, 17, tzinfo=UTC), datetime(2020, 4, 26, 18, tzinfo=UTC),
            "America/Argentina/Buenos_Aires"),
    }


def test_a_tzid_with_a_slash_before_its_iana_name_is_that_zone(api, user):
    result = imported(api, "issue_466_convert_tzid_with_slash.ics")

    # A weekly series on Fridays at 20:00 in Stockholm: 18:00 UTC in summer (CEST), 19:00 in winter (CET).
    slots = Slot.objects.filter(creator=user, title="Just chatting")
    local = {slot.start.astimezone(ZoneInfo("Europe/Stockholm")).strftime("%a %H:%M") for slot in slots}
    assert local == {"Fri 20:00"} and {slot.time_zone for slot in slots} == {"Europe/Stockholm"}
    assert {slot.start.astimezone(UTC).hour for slot in slots} == {18, 19}
    assert not any("TZID" in warning["warning"] for warning in result["warnings"])


def test_google_utc_times_take_the_calendars_zone(api, user):
    imported(api, "alarm_google_future.ics")

    slot = the_slot(user, "event with alarms")
    assert (slot.start, slot.end) == (datetime(2024, 10, 4, 18, 15, tzinfo=UTC), datetime(2024, 10, 4, 19, tzinfo=UTC))
    # X-WR-TIMEZONE: Europe/London.
    assert slot.time_zone == "Europe/London"
    assert slot.source_uid == "79fs7pkqvht9m5igs0vjv1sfra@google.com"
    assert (slot.visibility, slot.all_day, slot.description, slot.location) == ("private", False, "", "")


def test_thunderbird_times_are_read_in_their_tzid(api, user):
    imported(api, "alarm_thunderbird_future.ics")

    slot = the_slot(user, "event with alarms")
    # 15:00 in London in October is British Summer Time, UTC+1.
    assert (slot.start, slot.end) == (datetime(2024, 10, 23, 14, tzinfo=UTC), datetime(2024, 10, 23, 15, tzinfo=UTC))
    assert slot.time_zone == "Europe/London"


def test_a_custom_tzid_is_read_with_the_files_vtimezone(api, user):
    imported(api, "america_new_york.ics")

    slot = the_slot(user, "an event with a custom tz name")
    # custom_America/New_York: EDT, UTC-4, in August.
    assert (slot.start, slot.end) == (datetime(2014, 8, 29, 12, tzinfo=UTC), datetime(2014, 8, 29, 14, tzinfo=UTC))
    # No IANA name in the file: the slot lives in the import's zone.
    assert slot.time_zone == "UTC"


def test_exchange_windows_zone_names_become_iana_zones(api, user):
    imported(api, "issue_836_do_not_quote_tzid.ics")

    slot = the_slot(user, "Anonymous Test Event for TZID")
    # "Eastern Standard Time" 17:00 on Oct 28, 2024 is EDT, UTC-4.
    assert (slot.start, slot.end) == (datetime(2024, 10, 28, 21, tzinfo=UTC), datetime(2024, 10, 28, 22, tzinfo=UTC))
    assert slot.time_zone == "America/New_York"


def test_exchange_quoted_windows_tzid_with_observances_starting_together(api, user):
    imported(api, "timezone_same_start.ics")

    slot = the_slot(user, "Test 4")
    # "Pacific Standard Time" 12:00 on Feb 24, 2017 is PST, UTC-8.
    assert (slot.start, slot.end) == (datetime(2017, 2, 24, 20, tzinfo=UTC), datetime(2017, 2, 24, 20, 30, tzinfo=UTC))
    assert slot.time_zone == "America/Los_Angeles"
    assert slot.source_uid.startswith("040000008200E00074C5B7101A82E008")


def test_cdo_event_without_uid_and_with_a_malformed_rrule_is_its_first_occurrence(api, user):
    result = imported(api, "issue_165_missing_event.ics")

    slot = the_slot(user, "Sprint 25 Daily Standup")
    # The zone "GMT +0100 (Standard) / GMT +0200 (Daylight)" is UTC+2 in July.
    assert (slot.start, slot.end) == (datetime(2015, 7, 3, 8, tzinfo=UTC), datetime(2015, 7, 3, 8, 30, tzinfo=UTC))
    assert slot.source_uid.startswith("ical:")
    ((warning),) = result["warnings"]
    assert warning["where"] == "line 20"
    assert warning["warning"].startswith("'Sprint 25 Daily Standup' repeats, but its occurrences could not be")
    assert warning["warning"].endswith("only its first occurrence was imported.")
    assert [(series["where"], series["occurrences"]) for series in result["series"]] == [("line 20", 1)]


def test_holiday_dates_become_all_day_slots_of_one_day(api, user):
    imported(api, "example.ics")

    slots = {slot.title: slot for slot in Slot.objects.filter(creator=user)}
    assert set(slots) == {"New Year's Day", "Orthodox Christmas", "International Women's Day"}
    # DTEND equals DTSTART in this file (RFC 5545 wants it later): one day.
    days = {title: all_day_dates(slot.start, slot.end, slot.time_zone) for title, slot in slots.items()}
    assert days["New Year's Day"] == (date(2022, 1, 1), date(2022, 1, 2))
    assert days["Orthodox Christmas"] == (date(2022, 1, 7), date(2022, 1, 8))
    assert all(slot.all_day and slot.time_zone == "Etc/GMT" for slot in slots.values())
    assert slots["Orthodox Christmas"].location == "Russia"
    assert slots["New Year's Day"].description == "Happy New Year!"


def test_google_repeating_event_with_apple_location_is_its_occurrences_in_the_window(api, user):
    result = imported(api, "x_location.ics")

    slots = Slot.objects.filter(creator=user, title="Daily Sync")
    first, after = window_days()
    assert len(slots) == weekdays_in_window()
    assert {slot.start.date().weekday() for slot in slots} == {0, 1, 2, 3, 4}
    assert first <= min(slot.start.date() for slot in slots) and max(slot.start.date() for slot in slots) < after
    for slot in slots:
        # 14:00 to 14:30 in Zurich, summer time or not.
        assert slot.start.astimezone(ZURICH).time() == time(14) and slot.end - slot.start == timedelta(minutes=30)
        assert slot.location == "Roadstar 16\n12764 Happyville\nDenmark"
        assert slot.description == "Some Description"
        assert slot.time_zone == "Europe/Zurich"
    assert result["warnings"] == []
    assert result["series"] == [{
        "uid": "BFE33ADD-5553-48B5-B5A5-F9DA5CA4C393", "title": "Daily Sync", "where": "line 27",
        "occurrences": weekdays_in_window(), "capped": False,
    }]


@pytest.mark.parametrize("name", ["bom_calendar.ics", "calendar_with_unicode.ics"])
def test_a_calendar_without_events_says_so_and_creates_no_group(api, name):
    result = imported(api, name)

    assert result["warnings"] == [{"where": "file", "warning": "The file holds no events."}]
    assert not SlotGroup.objects.exists()


def test_every_imported_slot_joins_the_users_imports_group(api, user):
    imported(api, "example.ics")
    imported(api, "x_location.ics")

    group = SlotGroup.objects.get(owner=user)
    assert group.name == "Imports"
    assert group.slots.count() == 3 + weekdays_in_window()
