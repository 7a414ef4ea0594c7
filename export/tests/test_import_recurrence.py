"""Repeating events imported as the slots of their occurrences in the import's window, as Google shows them."""
import hashlib
import re
import zoneinfo
from datetime import date, datetime, time, timedelta, timezone

import pytest
import recurring_ical_events
from dateutil.rrule import rrulestr
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from icalendar import Calendar

from export.formats.ical.mapping import all_day_dates
from export.formats.ical.series import SeriesWork, Walk
from export.tests.importing import (
    calendar,
    imported,
    interop,
    interop_names,
    problems,
    recurring,
    recurring_names,
    upload,
    window_days,
)
from slots.models import Slot
from slots.tests.factories import SlotFactory, UserFactory

pytestmark = pytest.mark.django_db

UTC = timezone.utc
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
# Fixed dates in 2026 stay in the window for decades with a long past; the other settings are the defaults.
LONG_PAST = override_settings(IMPORT_RECURRENCE_PAST_DAYS=365 * 60)


def slots(title: str | None = None) -> list[Slot]:
    found = Slot.objects.order_by("start")
    return list(found if title is None else found.filter(title=title))


def starts(title: str | None = None) -> list[datetime]:
    return [slot.start for slot in slots(title)]


def day(offset: int) -> date:
    """A day counted from the window's first."""
    return window_days()[0] + timedelta(days=offset)


def ical(moment: date) -> str:
    return moment.strftime("%Y%m%d")


# Rules ------------------------------------------------------------------------------------------


@LONG_PAST
def test_a_series_is_its_occurrences_each_known_by_its_uid_and_original_start(api):
    result = imported(api, calendar(
        "UID:standup\nSUMMARY:Standup\nDTSTART:20260707T090000Z\nDTEND:20260707T091500Z\nRRULE:FREQ=DAILY;COUNT=3"
    ))

    assert starts() == [datetime(2026, 7, day, 9, tzinfo=UTC) for day in (7, 8, 9)]
    assert {slot.end - slot.start for slot in slots()} == {timedelta(minutes=15)}
    assert [slot.source_uid for slot in slots()] == [
        f"standup;RECURRENCE-ID=202607{day:02}T090000Z" for day in (7, 8, 9)
    ]
    assert {slot.source_series for slot in slots()} == {"standup"}
    assert (result["created"], result["warnings"]) == (3, [])
    assert result["series"] == [
        {"uid": "standup", "title": "Standup", "where": "line 4", "occurrences": 3, "capped": False}
    ]


def test_the_answer_names_the_window_and_the_caps(api):
    first, after = window_days()

    window = imported(api, calendar("UID:a\nDTSTART:20260707T090000Z"))["recurrence_window"]

    assert window == {
        "from": f"{first}T00:00:00Z", "until": f"{after}T00:00:00Z",
        "max_occurrences_per_series": 1500, "max_occurrences": 50000,
    }
    assert (after - first).days == 365 + 730 + 1


def test_a_single_event_keeps_its_uid_as_its_identity(api):
    imported(api, calendar("UID:once@example.com\nDTSTART:20260707T090000Z"))

    (slot,) = slots()
    assert (slot.source_uid, slot.source_series) == ("once@example.com", "")


@LONG_PAST
def test_exdate_leaves_out_its_occurrences(api):
    imported(api, calendar(
        "UID:w\nSUMMARY:Weekly\nDTSTART;TZID=Europe/Berlin:20260706T100000\nRRULE:FREQ=WEEKLY;COUNT=4\n"
        "EXDATE;TZID=Europe/Berlin:20260713T100000,20260720T100000"
    ))

    assert [start.astimezone(BERLIN).date() for start in starts()] == [date(2026, 7, 6), date(2026, 7, 27)]


@LONG_PAST
def test_rdate_adds_occurrences_and_a_period_its_own_length(api):
    imported(api, calendar(
        "UID:r\nSUMMARY:Review\nDTSTART:20260701T090000Z\nDTEND:20260701T100000Z\n"
        "RDATE:20260715T090000Z,20260720T140000Z\nRDATE;VALUE=PERIOD:20260801T090000Z/20260801T120000Z"
    ))

    assert [(slot.start, slot.end - slot.start) for slot in slots()] == [
        (datetime(2026, 7, 1, 9, tzinfo=UTC), timedelta(hours=1)),
        (datetime(2026, 7, 15, 9, tzinfo=UTC), timedelta(hours=1)),
        (datetime(2026, 7, 20, 14, tzinfo=UTC), timedelta(hours=1)),
        (datetime(2026, 8, 1, 9, tzinfo=UTC), timedelta(hours=3)),
    ]


@LONG_PAST
def test_several_rrules_give_every_occurrence_of_each_once(api):
    imported(api, calendar(
        "UID:m\nSUMMARY:Both\nDTSTART:20260706T090000Z\nRRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3\n"
        "RRULE:FREQ=WEEKLY;BYDAY=MO,TH;COUNT=3"
    ))

    assert [start.date() for start in starts()] == [
        date(2026, 7, 6), date(2026, 7, 9), date(2026, 7, 13), date(2026, 7, 20),
    ]


@LONG_PAST
def test_an_all_day_series_is_all_day_slots_of_its_length(api):
    imported(api, calendar(
        "UID:d\nSUMMARY:Trip\nDTSTART;VALUE=DATE:20260703\nDTEND;VALUE=DATE:20260705\nRRULE:FREQ=MONTHLY;COUNT=3",
        head="X-WR-TIMEZONE:Europe/Lisbon",
    ))

    assert all(slot.all_day and slot.time_zone == "Europe/Lisbon" for slot in slots())
    assert [all_day_dates(slot.start, slot.end, slot.time_zone) for slot in slots()] == [
        (date(2026, month, 3), date(2026, month, 5)) for month in (7, 8, 9)
    ]
    assert [slot.source_uid for slot in slots()] == [f"d;RECURRENCE-ID=20260{month}03" for month in (7, 8, 9)]


@LONG_PAST
def test_a_zoned_series_keeps_its_wall_clock_time_across_the_change_to_winter_time(api):
    # Berlin leaves summer time on Sunday, October 25, 2026.
    imported(api, calendar(
        "UID:z\nSUMMARY:Yoga\nDTSTART;TZID=Europe/Berlin:20261022T090000\nDTEND;TZID=Europe/Berlin:20261022T100000\n"
        "RRULE:FREQ=WEEKLY;COUNT=2"
    ))

    assert starts() == [datetime(2026, 10, 22, 7, tzinfo=UTC), datetime(2026, 10, 29, 8, tzinfo=UTC)]
    assert {slot.start.astimezone(BERLIN).time() for slot in slots()} == {time(9)}
    assert {slot.time_zone for slot in slots()} == {"Europe/Berlin"}


@LONG_PAST
def test_googles_utc_times_repeat_at_the_wall_clock_time_of_x_wr_timezone(api):
    # Google writes a series in UTC beside the calendar's zone; it shows 09:00 in Berlin all year.
    imported(api, calendar(
        "UID:g@google.com\nSUMMARY:Weekly\nDTSTART:20261022T070000Z\nDTEND:20261022T080000Z\n"
        "RRULE:FREQ=WEEKLY;COUNT=2",
        head="X-WR-TIMEZONE:Europe/Berlin",
    ))

    assert starts() == [datetime(2026, 10, 22, 7, tzinfo=UTC), datetime(2026, 10, 29, 8, tzinfo=UTC)]
    assert [slot.source_uid for slot in slots()] == [
        "g@google.com;RECURRENCE-ID=20261022T070000Z", "g@google.com;RECURRENCE-ID=20261029T080000Z",
    ]


@LONG_PAST
def test_googles_date_only_until_beside_a_zoned_start_ends_on_that_day(api):
    imported(api, calendar(
        "UID:u\nSUMMARY:Until\nDTSTART;TZID=America/New_York:20260701T180000\nRRULE:FREQ=DAILY;UNTIL=20260704"
    ))

    assert [start.astimezone(zoneinfo.ZoneInfo("America/New_York")).date() for start in starts()] == [
        date(2026, 7, day) for day in (1, 2, 3)
    ]


@LONG_PAST
def test_a_series_in_the_files_own_vtimezone_is_placed_with_it(api):
    zone = "\n".join([
        "BEGIN:VTIMEZONE", "TZID:Office", "BEGIN:STANDARD", "DTSTART:19701025T030000",
        "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "END:STANDARD",
        "BEGIN:DAYLIGHT", "DTSTART:19700329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "TZOFFSETFROM:+0100",
        "TZOFFSETTO:+0200", "END:DAYLIGHT", "END:VTIMEZONE",
    ])

    imported(api, calendar("UID:o\nDTSTART;TZID=Office:20261022T090000\nRRULE:FREQ=WEEKLY;COUNT=2", head=zone))

    assert starts() == [datetime(2026, 10, 22, 7, tzinfo=UTC), datetime(2026, 10, 29, 8, tzinfo=UTC)]


# Edited and cancelled occurrences -------------------------------------------------------------


@LONG_PAST
def test_an_edited_occurrence_is_the_edit_and_keeps_its_original_start_as_identity(api):
    imported(api, calendar(
        "UID:s\nSUMMARY:Standup\nDTSTART:20260707T090000Z\nRRULE:FREQ=DAILY;COUNT=3",
        "UID:s\nSUMMARY:Standup, later\nRECURRENCE-ID:20260708T090000Z\nDTSTART:20260708T110000Z\nLOCATION:Room 2",
    ))

    assert [(slot.title, slot.start, slot.location) for slot in slots()] == [
        ("Standup", datetime(2026, 7, 7, 9, tzinfo=UTC), ""),
        ("Standup, later", datetime(2026, 7, 8, 11, tzinfo=UTC), "Room 2"),
        ("Standup", datetime(2026, 7, 9, 9, tzinfo=UTC), ""),
    ]
    assert slots()[1].source_uid == "s;RECURRENCE-ID=20260708T090000Z"


@LONG_PAST
def test_an_edit_of_the_first_occurrence_is_the_first_slot(api):
    imported(api, calendar(
        "UID:s\nSUMMARY:Standup\nDTSTART:20260707T090000Z\nRRULE:FREQ=DAILY;COUNT=2",
        "UID:s\nSUMMARY:Standup, moved\nRECURRENCE-ID:20260707T090000Z\nDTSTART:20260707T100000Z",
    ))

    assert [(slot.title, slot.start) for slot in slots()] == [
        ("Standup, moved", datetime(2026, 7, 7, 10, tzinfo=UTC)), ("Standup", datetime(2026, 7, 8, 9, tzinfo=UTC)),
    ]


def test_an_occurrence_moved_into_or_out_of_the_window_is_where_it_moved(api):
    last, after = window_days()[1] - timedelta(days=1), window_days()[1]
    imported(api, calendar(
        f"UID:s\nSUMMARY:Weekly\nDTSTART:{ical(last - timedelta(days=14))}T090000Z\nRRULE:FREQ=WEEKLY;COUNT=4",
        # The occurrence after the window, moved into it; the one a week before the last day, moved out.
        f"UID:s\nSUMMARY:Moved in\nRECURRENCE-ID:{ical(last + timedelta(days=7))}T090000Z\n"
        f"DTSTART:{ical(last)}T120000Z",
        f"UID:s\nSUMMARY:Moved out\nRECURRENCE-ID:{ical(last - timedelta(days=7))}T090000Z\n"
        f"DTSTART:{ical(after + timedelta(days=3))}T090000Z",
    ))

    assert [(slot.title, slot.start.date()) for slot in slots()] == [
        ("Weekly", last - timedelta(days=14)), ("Weekly", last), ("Moved in", last),
    ]


@LONG_PAST
def test_a_cancelled_occurrence_or_series_makes_no_slot(api):
    result = imported(api, calendar(
        "UID:s\nSUMMARY:Standup\nDTSTART:20260707T090000Z\nRRULE:FREQ=DAILY;COUNT=3",
        "UID:s\nSUMMARY:Standup\nRECURRENCE-ID:20260708T090000Z\nDTSTART:20260708T090000Z\nSTATUS:CANCELLED",
        "UID:gone\nSUMMARY:Gone\nDTSTART:20260707T090000Z\nRRULE:FREQ=DAILY;COUNT=3\nSTATUS:CANCELLED",
    ))

    assert starts() == [datetime(2026, 7, 7, 9, tzinfo=UTC), datetime(2026, 7, 9, 9, tzinfo=UTC)]
    assert [(series["uid"], series["occurrences"]) for series in result["series"]] == [("s", 2), ("gone", 0)]


def test_a_cancelled_event_outside_a_series_makes_no_slot_either_and_is_counted(api):
    result = imported(api, calendar(
        "UID:c\nSUMMARY:Called off\nDTSTART:20260707T090000Z\nSTATUS:CANCELLED",
        "UID:k\nSUMMARY:Kept\nDTSTART:20260707T100000Z\nSTATUS:CONFIRMED",
        "SUMMARY:No UID, called off\nDTSTART:20260707T110000Z\nSTATUS:CANCELLED",
        "UID:s\nSUMMARY:Edit of a series not in the file\nRECURRENCE-ID:20260708T090000Z\n"
        "DTSTART:20260708T090000Z\nSTATUS:CANCELLED",
    ))

    assert [slot.title for slot in slots()] == ["Kept"]
    assert result["created"] == 1
    assert {"where": "file", "warning": "3 cancelled event(s) (STATUS:CANCELLED) were not imported."} in result[
        "warnings"]


def test_edited_occurrences_without_their_series_are_events_of_their_own(api):
    result = imported(api, calendar(
        "UID:s\nSUMMARY:One\nRECURRENCE-ID:20260709T090000Z\nDTSTART:20260709T110000Z",
        "UID:s\nSUMMARY:Two\nRECURRENCE-ID:20260710T090000Z\nDTSTART:20260710T110000Z",
    ))

    assert [(slot.title, slot.source_uid, slot.source_series) for slot in slots()] == [
        ("One", "s;RECURRENCE-ID=20260709T090000Z", "s"), ("Two", "s;RECURRENCE-ID=20260710T090000Z", "s"),
    ]
    assert result["created"] == 2


def test_copies_of_one_event_are_the_newest_with_a_warning(api):
    result = imported(api, calendar(
        "UID:e\nSUMMARY:Old\nDTSTART:20260707T090000Z\nSEQUENCE:1",
        "UID:e\nSUMMARY:New\nDTSTART:20260707T100000Z\nSEQUENCE:2",
        "UID:f\nSUMMARY:Older\nDTSTART:20260707T090000Z\nLAST-MODIFIED:20260101T000000Z",
        "UID:f\nSUMMARY:Newer\nDTSTART:20260707T090000Z\nLAST-MODIFIED:20260201T000000Z",
    ))

    assert [slot.title for slot in slots()] == ["Newer", "New"]
    assert result["warnings"] == [
        {"where": "line 4", "warning": "An older copy of the event at line 10 (its SEQUENCE or LAST-MODIFIED is "
         "earlier); only the newest was imported."},
        {"where": "line 16", "warning": "An older copy of the event at line 22 (its SEQUENCE or LAST-MODIFIED is "
         "earlier); only the newest was imported."},
    ]


def test_copies_that_nothing_orders_are_still_refused(api):
    found = problems(api, calendar("UID:e\nSUMMARY:A\nDTSTART:20260707T090000Z",
                                   "UID:e\nSUMMARY:B\nDTSTART:20260707T090000Z"))

    assert found == [{"where": "line 9", "problem": "Has the same UID as line 4."}]


def test_a_long_uid_is_remembered_by_a_digest_of_the_uid_and_the_occurrence(api):
    uid = "u" * 300
    imported(api, calendar(f"UID:{uid}\nDTSTART:{ical(day(1))}T090000Z\nRRULE:FREQ=DAILY;COUNT=2"))

    keys = [slot.source_uid for slot in slots()]
    assert all(key.startswith("sha256:") and len(key) == 71 for key in keys) and len(set(keys)) == 2
    assert {slot.source_series for slot in slots()} == {"sha256:" + hashlib.sha256(uid.encode()).hexdigest()}


# Importing again ------------------------------------------------------------------------------

SERIES = (
    "UID:s@google.com\nSUMMARY:Standup\nDTSTART:{start}T090000Z\nDTEND:{start}T091500Z\nRRULE:FREQ=DAILY;COUNT={count}"
)


def standup(count: int = 5, *more: str, start: int = 1) -> str:
    return calendar(SERIES.format(start=ical(day(start)), count=count), *more)


def test_the_same_file_again_changes_nothing(api):
    content = standup(5, f"UID:s@google.com\nSUMMARY:Moved\nRECURRENCE-ID:{ical(day(2))}T090000Z\n"
                         f"DTSTART:{ical(day(2))}T100000Z")
    imported(api, content)
    before = list(Slot.objects.order_by("pk").values())

    result = imported(api, content)

    assert (result["created"], result["updated"], result["unchanged"], result["removed"]) == (0, 0, 5, 0)
    assert list(Slot.objects.order_by("pk").values()) == before


def test_a_newer_export_updates_adds_and_removes_only_that_series_occurrences(api, user):
    imported(api, standup(5))
    other = imported(api, calendar(f"UID:other\nDTSTART:{ical(day(2))}T090000Z\nRRULE:FREQ=DAILY;COUNT=3",
                                   f"UID:single\nDTSTART:{ical(day(3))}T090000Z"))
    untouched = {slot.pk: slot.updated_at for slot in Slot.objects.exclude(source_series="s@google.com")}
    ids = {slot.source_uid: slot.pk for slot in slots("Standup")}

    # One more day, the third occurrence edited, the fourth left out.
    result = imported(api, standup(
        6, f"UID:s@google.com\nSUMMARY:Standup, edited\nRECURRENCE-ID:{ical(day(3))}T090000Z\n"
           f"DTSTART:{ical(day(3))}T093000Z",
    ).replace("COUNT=6", f"COUNT=6\nEXDATE:{ical(day(4))}T090000Z"))

    assert other["created"] == 4
    assert (result["created"], result["updated"], result["unchanged"], result["removed"]) == (1, 1, 3, 1)
    series = Slot.objects.filter(source_series="s@google.com").order_by("start")
    assert [(slot.title, slot.start.date()) for slot in series] == [
        ("Standup", day(1)), ("Standup", day(2)), ("Standup, edited", day(3)), ("Standup", day(5)),
        ("Standup", day(6)),
    ]
    # The occurrences that stayed are the same slots.
    assert {slot.source_uid: slot.pk for slot in series if slot.source_uid in ids} == {
        key: pk for key, pk in ids.items() if not key.endswith(f"{ical(day(4))}T090000Z")
    }
    assert {slot.pk: slot.updated_at for slot in Slot.objects.exclude(source_series="s@google.com")} == untouched


def test_occurrences_outside_the_window_stay_when_the_series_no_longer_has_them(api, user):
    # From ten days before today's window, for fifteen days: an import whose window began earlier took them all.
    content = standup(15, start=-10)
    with override_settings(IMPORT_RECURRENCE_PAST_DAYS=400):
        imported(api, content)
    assert len(slots()) == 15

    # Today's window, and the series three days shorter: its last three go, the ten before the window stay.
    result = imported(api, standup(12, start=-10))

    assert (result["created"], result["unchanged"], result["removed"]) == (0, 2, 3)
    assert result["series"][0]["occurrences"] == 2
    assert [slot.start.date() for slot in slots()] == [day(n) for n in range(-10, 2)]


def test_removal_never_touches_another_users_occurrences(api, user):
    stranger = UserFactory(username="stranger")
    theirs = SlotFactory(creator=stranger, source_uid="s@google.com;RECURRENCE-ID=x", source_series="s@google.com",
                         start=datetime.combine(day(3), time(9), tzinfo=UTC), end=None)

    imported(api, standup(2))

    assert Slot.objects.filter(pk=theirs.pk).exists()


def test_an_occurrence_imported_alone_is_found_again_with_its_series(api):
    edit = f"UID:s@google.com\nSUMMARY:Edited\nRECURRENCE-ID:{ical(day(2))}T090000Z\nDTSTART:{ical(day(2))}T100000Z"
    imported(api, calendar(edit))

    result = imported(api, standup(3, edit))

    assert (result["created"], result["unchanged"]) == (2, 1)
    assert [slot.title for slot in slots()] == ["Standup", "Edited", "Standup"]


# Caps and bounds ------------------------------------------------------------------------------


@override_settings(IMPORT_MAX_OCCURRENCES_PER_SERIES=4)
def test_a_series_with_more_occurrences_than_the_cap_is_its_first_ones_with_a_warning(api):
    result = imported(api, calendar(f"UID:d\nSUMMARY:Daily\nDTSTART:{ical(day(0))}T090000Z\nRRULE:FREQ=DAILY"))

    assert [slot.start.date() for slot in slots()] == [day(n) for n in range(4)]
    assert result["series"] == [{"uid": "d", "title": "Daily", "where": "line 4", "occurrences": 4, "capped": True}]
    assert result["warnings"] == [{
        "where": "line 4",
        "warning": "'Daily' has more occurrences in the import's window than the 4 an import makes of one series; "
        "only the first 4 were imported.",
    }]


def test_a_daily_series_over_the_whole_default_window_is_not_capped(api):
    result = imported(api, calendar(f"UID:d\nDTSTART:{ical(day(-30))}T090000Z\nRRULE:FREQ=DAILY"))

    assert result["series"][0]["occurrences"] == 1096 and not result["series"][0]["capped"]


@override_settings(IMPORT_MAX_OCCURRENCES=10)
def test_a_file_that_makes_more_slots_than_the_cap_is_refused(api):
    found = problems(api, calendar(
        f"UID:a\nDTSTART:{ical(day(1))}T090000Z\nRRULE:FREQ=DAILY;COUNT=6",
        f"UID:b\nDTSTART:{ical(day(1))}T090000Z\nRRULE:FREQ=DAILY;COUNT=5",
    ))

    assert found == [{"where": "file", "problem": "The file's events and the occurrences of its repeating events make "
                      "more than 10 slots, the most one import makes."}]
    assert not Slot.objects.exists()


@pytest.mark.parametrize("frequency", ["SECONDLY", "MINUTELY", "HOURLY"])
def test_a_rule_more_frequent_than_daily_is_refused_naming_its_line(api, frequency):
    found = problems(api, calendar("UID:a\nDTSTART:20260707T090000Z", f"UID:b\nDTSTART:19700101T000000Z\n"
                                   f"RRULE:FREQ={frequency}"))

    assert found == [{"where": "line 8", "problem": f"The event repeats more often than daily (FREQ={frequency}); an "
                      "import expands series that repeat at most daily."}]


def test_a_rule_that_never_matches_or_starts_after_the_window_makes_nothing(api):
    result = imported(api, calendar(
        "UID:never\nDTSTART:20200101T090000Z\nRRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "UID:later\nDTSTART:90000101T090000Z\nRRULE:FREQ=DAILY",
        f"UID:now\nDTSTART:{ical(day(1))}T090000Z",
    ))

    assert [(series["uid"], series["occurrences"]) for series in result["series"]] == [("never", 0), ("later", 0)]
    assert result["created"] == 1


def test_the_walk_of_a_files_rules_is_bounded_and_its_end_refused_naming_the_series(api):
    # Each rule matches nothing and walks on to the year 9999 after the window (416,000 steps at most, after
    # the 400-year cycles it skips): 40 of them are more than the 3,000,000 an import walks.
    events = [f"UID:never{n}\nDTSTART:20200101T090000Z\nRRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30" for n in range(40)]

    found = problems(api, calendar(*events))

    ((problem),) = found
    assert problem["problem"].startswith("Expanding the file's repeating events takes more than the 3,000,000 steps")
    # Walked up to a series in the middle of the file, not to its end.
    assert 4 * 2 < int(problem["where"].split()[1]) < 4 * 2 + 6 * 39


def test_a_rule_walked_from_the_year_2_fits_the_budget(api):
    result = imported(api, calendar("UID:old\nDTSTART:00020101T090000Z\nRRULE:FREQ=DAILY"))

    assert result["series"][0]["occurrences"] == 1096


# The calendars the packages ship, against recurring-ical-events' own reading ------------------

REPEATS = re.compile(rb"^(RRULE|RDATE|RECURRENCE-ID)[;:]", re.MULTILINE | re.IGNORECASE)
CORPUS = [
    *(("icalendar", name) for name in interop_names() if REPEATS.search(interop(name))),
    *(("recurring-ical-events", name) for name in recurring_names() if REPEATS.search(recurring(name))),
]
# Back to 2014, before nearly every series of the files, and caps no file reaches.
WIDE = override_settings(IMPORT_RECURRENCE_PAST_DAYS=365 * 12, IMPORT_MAX_OCCURRENCES_PER_SERIES=20_000,
                         IMPORT_MAX_OCCURRENCES=200_000)
MARGIN = timedelta(days=2)
OTHERWISE = "repeats, but its occurrences could not be worked out|is not defined in the file nor a known zone"


def shipped(package: str, name: str) -> bytes:
    return interop(name) if package == "icalendar" else recurring(name)


def slot_occurrence(slot: Slot) -> tuple:
    if slot.all_day:
        return (slot.source_series, slot.title,
                *all_day_dates(slot.start, slot.end or slot.start + timedelta(days=1), slot.time_zone))
    return slot.source_series, slot.title, slot.start, slot.end or slot.start


def independent_occurrences(content: bytes, window: dict) -> tuple[set[tuple], set[str]]:
    """What recurring-ical-events, on icalendar's own reading of the file, gives for its series with a UID
    (those without one it cannot tell apart) that start in the window, as slot_occurrence() has them; and the
    series it cannot read itself (a DTSTART written twice, a rule it refuses), each expanded on its own."""
    start, end = (datetime.fromisoformat(window[name].replace("Z", "+00:00")) for name in ("from", "until"))
    found, unreadable = set(), set()
    for component in Calendar.from_ical(content, multiple=True):
        named = str(component.get("X-WR-TIMEZONE", "")) or "UTC"
        zone = zoneinfo.ZoneInfo(named if named in zoneinfo.available_timezones() else "UTC")
        for uid, events in series_of(component).items():
            alone = Calendar()
            if "X-WR-TIMEZONE" in component:
                alone["X-WR-TIMEZONE"] = component["X-WR-TIMEZONE"]
            for event in events:
                alone.add_component(event)
            try:
                occurrences = recurring_ical_events.of(alone).between(start - MARGIN, end + MARGIN)
            except Exception:
                unreadable.add(uid)
                continue
            found |= {occurrence_in(uid, occurrence, zone, start, end) for occurrence in occurrences} - {None}
    return found, unreadable


def series_of(component) -> dict[str, list]:
    """The file's events by UID, for the UIDs of a repeating event."""
    events: dict[str, list] = {}
    for event in component.walk("VEVENT"):
        events.setdefault(str(event.get("UID", "")), []).append(event)
    return {
        uid: found for uid, found in events.items()
        if uid and any(("RRULE" in event or "RDATE" in event) and "RECURRENCE-ID" not in event for event in found)
    }


def occurrence_in(uid: str, occurrence, zone, start: datetime, end: datetime) -> tuple | None:
    if str(occurrence.get("STATUS", "")).upper() == "CANCELLED":
        return None
    title = str(occurrence.get("SUMMARY", ""))[:255]
    first, last = occurrence["DTSTART"].dt, occurrence["DTEND"].dt
    if not isinstance(first, datetime):
        inside = start <= datetime.combine(first, time(), tzinfo=zone) < end
        return (uid, title, first, max(last, first + timedelta(days=1))) if inside else None
    # Floating times are read in the calendar's zone, else the import's (TIME_ZONE, UTC here).
    first, last = (moment if moment.tzinfo else moment.replace(tzinfo=zone) for moment in (first, last))
    return (uid, title, first.astimezone(UTC), last.astimezone(UTC)) if start <= first < end else None


def test_the_packages_ship_calendars_with_series():
    assert len([name for package, name in CORPUS if package == "recurring-ical-events"]) >= 50
    assert len([name for package, name in CORPUS if package == "icalendar"]) >= 10


@WIDE
@pytest.mark.parametrize(("package", "name"), CORPUS)
def test_every_shipped_series_is_the_occurrences_recurring_ical_events_gives_or_is_refused_naming_a_line(
    api, user, package, name
):
    content = shipped(package, name)

    response = upload(api, content, name=name)

    assert response.status_code in (200, 422), response.content
    if response.status_code == 422:
        lines = len(content.splitlines())
        for problem in response.json()["problems"]:
            if problem["problem"].startswith("Unknown format"):
                # Not a calendar at all (a fuzzer's bytes): no line of it is to blame more than another.
                assert problem["where"] == "file"
                continue
            assert re.fullmatch(r"line [1-9][0-9]*", problem["where"]) and problem["problem"], problem
            assert int(problem["where"].split()[1]) <= lines
        assert not Slot.objects.exists()
        return
    answer = response.json()
    expected, unreadable = independent_occurrences(content, answer["recurrence_window"])
    # The series the import warned it read otherwise: as their first occurrence, or in another zone.
    left_out = unreadable | {
        series["uid"] for series in answer["series"]
        if any(warning["where"] == series["where"] and re.search(OTHERWISE, warning["warning"])
               for warning in answer["warnings"])
    }
    ours = {
        slot_occurrence(slot) for slot in Slot.objects.filter(creator=user, source_series__in=[
            # A series without a UID is known by its content here, and cannot be told apart there.
            series["uid"] for series in answer["series"]
            if series["uid"] not in left_out and not series["uid"].startswith("ical:")
        ])
    }
    assert ours == {occurrence for occurrence in expected if occurrence[0] not in left_out}


def test_a_capped_series_removes_none_of_its_earlier_occurrences(api):
    content = calendar(f"UID:d\nSUMMARY:Daily\nDTSTART:{ical(day(0))}T090000Z\nRRULE:FREQ=DAILY;COUNT=6")
    imported(api, content)

    with override_settings(IMPORT_MAX_OCCURRENCES_PER_SERIES=4):
        result = imported(api, content)

    # The two the cap left out are still occurrences of the series.
    assert (result["unchanged"], result["removed"], result["series"][0]["capped"]) == (4, 0, True)
    assert len(slots()) == 6


def test_a_series_earlier_occurrences_are_looked_up_in_one_query_whatever_their_number(api):
    content = calendar(*(f"UID:s{n}\nDTSTART:{ical(day(1))}T090000Z\nRRULE:FREQ=DAILY;COUNT=20" for n in range(30)))
    imported(api, content)

    with CaptureQueriesContext(connection) as queries:
        result = imported(api, content)

    lookups = [query["sql"] for query in queries if query["sql"].startswith("SELECT") and "source_series" in
               query["sql"].split("WHERE", 1)[-1]]
    assert (result["unchanged"], result["removed"]) == (600, 0)
    assert len(lookups) == 1


def test_a_series_long_title_is_cut_with_one_warning_for_all_its_occurrences(api):
    result = imported(api, calendar(
        f"UID:s\nSUMMARY:{'t' * 300}\nDTSTART:{ical(day(1))}T090000Z\nRRULE:FREQ=DAILY;COUNT=5"
    ))

    assert {len(slot.title) for slot in slots()} == {255} and len(slots()) == 5
    assert result["warnings"] == [{"where": "line 4", "warning": "The title was cut to 255 characters."}]


# What a rule that ends is charged ---------------------------------------------------------------


def walk(rule: str, first: datetime, start: datetime, stop: datetime) -> tuple[list[datetime], int]:
    """The starts the bounded walk gives from start to stop, and the steps it was charged."""
    work = SeriesWork()
    rule = rrulestr(rule, dtstart=first, cache=False)
    return list(Walk(work, limit=100_000).walked(rule, start, stop)), work.spent


WINDOW = (datetime(2025, 12, 1, tzinfo=UTC), datetime(2028, 12, 2, tzinfo=UTC))
BEGUN_2016 = datetime(2016, 1, 4, 9, tzinfo=UTC)


# Whether the rule, begun in 2016, is charged less than the same frequency without its end.
ENDING_RULES = {
    "FREQ=WEEKLY;COUNT=10": True,
    "FREQ=WEEKLY;UNTIL=20170101T000000Z": True,  # over before the window: not walked at all
    "FREQ=WEEKLY;UNTIL=20260301T000000Z": True,
    "FREQ=DAILY;COUNT=500": True,
    "FREQ=YEARLY;COUNT=3": True,
    # Not every period occurs (no 31st in February, not every day a Monday): charged as far as without COUNT.
    "FREQ=MONTHLY;BYMONTHDAY=31;COUNT=10": False,
    "FREQ=DAILY;BYDAY=MO;COUNT=700": False,
    "FREQ=WEEKLY": False,
}


@pytest.mark.parametrize(("rule", "cheaper"), ENDING_RULES.items())
def test_a_rule_walked_gives_what_dateutil_gives_and_one_that_ends_is_charged_no_further(rule, cheaper):
    starts, spent = walk(rule, BEGUN_2016, *WINDOW)
    unbounded = walk(rule.split(";")[0], BEGUN_2016, *WINDOW)[1]

    assert starts == rrulestr(rule, dtstart=BEGUN_2016).between(*WINDOW, inc=True)
    assert (spent < unbounded) == cheaper, (spent, unbounded)


def test_a_decade_of_weekly_series_that_end_fits_the_walk_of_one_import(api):
    """Google's export of ten busy years: thousands of weekly series, each with its COUNT or UNTIL, most
    ended years ago. Charged to the window's end each, they would take 15 million steps."""
    events = []
    for number in range(3000):
        first = BEGUN_2016 + timedelta(days=number % 3650)
        until = first + timedelta(weeks=4 + number % 57)
        end = f"COUNT={4 + number % 37}" if number % 2 else f"UNTIL={until:%Y%m%dT%H%M%SZ}"
        events.append(f"UID:w{number}\nSUMMARY:Weekly {number}\nDTSTART:{first:%Y%m%dT%H%M%SZ}\n"
                      f"RRULE:FREQ=WEEKLY;{end}")

    result = imported(api, calendar(*events))

    assert len(result["series"]) == 3000 and result["created"] == sum(s["occurrences"] for s in result["series"])
