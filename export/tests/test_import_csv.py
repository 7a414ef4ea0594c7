"""CSV import: our Outlook export read back, and the same columns as Outlook and Google write them."""
from datetime import date, datetime, timezone
from functools import partial

import pytest
from django.test import override_settings

from export.formats.ical.mapping import all_day_dates
from export.tests import importing
from slots.models import Slot
from slots.tests.factories import SlotFactory, UserFactory

pytestmark = pytest.mark.django_db

UTC = timezone.utc
# Every file of this module is the Outlook CSV.
imported = partial(importing.imported, name="calendar.csv")
problems = partial(importing.problems, name="calendar.csv")
exported = partial(importing.exported, format="outlook")
HEADER = "Subject,Start Date,Start Time,End Date,End Time,All Day Event,Description,Location,Private"


def csv_file(*rows: str, header: str = HEADER) -> str:
    return "\r\n".join([header, *rows, ""])


@pytest.fixture
def varied_slots(user):
    berlin = "Europe/Berlin"
    return [
        SlotFactory(creator=user, title="Kick-off", time_zone=berlin, visibility="public",
                    start=datetime(2026, 12, 7, 8, tzinfo=UTC), end=datetime(2026, 12, 7, 10, 30, tzinfo=UTC),
                    description="Agenda:\r\n1. Welcome, \"all\"", location="Room 4.12"),
        SlotFactory(creator=user, title="Open", time_zone=berlin,
                    start=datetime(2026, 12, 8, 23, tzinfo=UTC), end=None),
        SlotFactory(creator=user, title="Winter holidays", all_day=True, time_zone=berlin,
                    start=datetime(2026, 12, 22, 23, tzinfo=UTC), end=datetime(2026, 12, 31, 23, tzinfo=UTC)),
        SlotFactory(creator=user, title="Open day", all_day=True, time_zone=berlin,
                    start=datetime(2027, 1, 4, 23, tzinfo=UTC), end=None),
    ]


def test_our_csv_imported_by_another_user_exports_the_same_bytes(api, client_for, varied_slots):
    first = exported(api, time_zone="Europe/Berlin")
    other = client_for(UserFactory(username="ines"))

    result = imported(other, first, time_zone="Europe/Berlin")

    assert result["created"] == len(varied_slots)
    assert exported(other, time_zone="Europe/Berlin") == first


def test_our_csv_read_in_the_zone_it_was_written_in_keeps_every_instant(api, client_for, varied_slots):
    other = UserFactory(username="ines")

    imported(client_for(other), exported(api, time_zone="Europe/Berlin"), time_zone="Europe/Berlin")

    def shape(slots):
        return sorted((slot.title, slot.start, slot.end, slot.all_day) for slot in slots)

    assert shape(Slot.objects.filter(creator=other)) == shape(varied_slots)


def test_slots_of_three_zones_written_in_one_come_back_at_their_instants_across_dst_changes(api, client_for, user):
    # Europe/Berlin's clocks go forward on 29 March 2026 at 01:00 UTC and back on 25 October at 01:00 UTC.
    instants = [
        ("America/New_York", datetime(2026, 3, 28, 23, 30, tzinfo=UTC), datetime(2026, 3, 29, 2, 30, tzinfo=UTC)),
        ("Asia/Tokyo", datetime(2026, 10, 24, 22, tzinfo=UTC), datetime(2026, 10, 25, 6, tzinfo=UTC)),
        # The first 02:30 of the night the clocks go back.
        ("Europe/Berlin", datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 2, 30, tzinfo=UTC)),
        ("America/New_York", datetime(2026, 10, 26, 8, tzinfo=UTC), datetime(2026, 10, 26, 9, 30, tzinfo=UTC)),
    ]
    for number, (zone, start, end) in enumerate(instants):
        SlotFactory(creator=user, title=f"Slot {number}", time_zone=zone, start=start, end=end)
    other = UserFactory(username="ines")

    imported(client_for(other), exported(api, time_zone="Europe/Berlin"), time_zone="Europe/Berlin")

    back = Slot.objects.filter(creator=other).order_by("title")
    assert [(slot.start, slot.end) for slot in back] == [(start, end) for _, start, end in instants]


def test_the_second_0230_of_the_night_clocks_go_back_is_read_back_as_the_first(api, client_for, user):
    # A CSV cannot say which of the two it is: both are written 02:30 AM, and read as the first (docs/formats.md).
    first, second = datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    SlotFactory(creator=user, time_zone="Europe/Berlin", start=second, end=None)
    other = UserFactory(username="ines")
    data = exported(api, time_zone="Europe/Berlin")

    imported(client_for(other), data, time_zone="Europe/Berlin")

    assert b",10/25/2026,02:30 AM," in data
    assert Slot.objects.get(creator=other).start == first


def test_the_same_csv_twice_changes_nothing_the_second_time(api, varied_slots):
    data = exported(api)
    imported(api, data)
    before = list(Slot.objects.values())

    result = imported(api, data)

    assert (result["created"], result["updated"], result["unchanged"]) == (0, 0, len(varied_slots))
    assert list(Slot.objects.values()) == before


@pytest.mark.parametrize("title", ["=SUM(A1:A9)", "+1", "-5 degrees", "@home", "'quoted'", "\tindented"])
def test_the_formula_guard_comes_off_exactly(api, client_for, user, title):
    SlotFactory(creator=user, title=title, description=title, location=title)
    other = UserFactory(username="ines")

    imported(client_for(other), exported(api))

    slot = Slot.objects.get(creator=other)
    assert (slot.title, slot.description, slot.location) == (title, title, title)


def test_a_timed_row_is_read_in_the_import_default_zone(api):
    imported(api, csv_file("Kick-off,12/07/2026,09:00 AM,12/07/2026,11:30 AM,False,,,False"))

    slot = Slot.objects.get()
    assert (slot.start, slot.end) == (datetime(2026, 12, 7, 9, tzinfo=UTC), datetime(2026, 12, 7, 11, 30, tzinfo=UTC))
    assert (slot.time_zone, slot.all_day, slot.visibility) == ("UTC", False, "public")


def test_an_all_day_rows_end_date_is_its_last_day(api):
    imported(api, csv_file("Winter holidays,12/23/2026,,01/01/2027,,True,,,True"), time_zone="Europe/Lisbon")

    slot = Slot.objects.get()
    assert slot.all_day and slot.time_zone == "Europe/Lisbon"
    assert all_day_dates(slot.start, slot.end, slot.time_zone) == (date(2026, 12, 23), date(2027, 1, 2))


@pytest.mark.parametrize("row, end", [
    ("Open,12/07/2026,09:00 AM,,,False,,,", None),
    ("Same day,12/07/2026,09:00 AM,,10:15 AM,False,,,", datetime(2026, 12, 7, 10, 15, tzinfo=UTC)),
    ("Open day,12/07/2026,,,,True,,,", None),
])
def test_an_empty_end_is_open_or_the_start_day(api, row, end):
    imported(api, csv_file(row))

    assert Slot.objects.get().end == end


@pytest.mark.parametrize("private, visibility", [("True", "private"), ("false", "public"), ("", "private")])
def test_private_is_visibility(api, private, visibility):
    imported(api, csv_file(f"x,12/07/2026,09:00 AM,,,False,,,{private}"))

    assert Slot.objects.get().visibility == visibility


def test_outlooks_own_columns_and_clock_are_read(api):
    outlook = (
        '"Subject","Start Date","Start Time","End Date","End Time","All day event","Reminder on/off",'
        '"Description","Location","Private","Sensitivity"'
    )
    imported(api, csv_file('"Review","7/7/2026","1:30:00 PM","7/7/2026","2:00:00 PM","False","True",'
                           '"","Room 1","False","Normal"', header=outlook))

    slot = Slot.objects.get()
    assert (slot.title, slot.location, slot.visibility) == ("Review", "Room 1", "public")
    assert (slot.start, slot.end) == (datetime(2026, 7, 7, 13, 30, tzinfo=UTC), datetime(2026, 7, 7, 14, tzinfo=UTC))


def test_a_csv_with_only_googles_two_required_columns_is_read(api):
    imported(api, csv_file("Dentist,03/02/2027", header="Subject,Start Date"))

    # No Start Time and no All Day Event: all day, as Google reads it.
    slot = Slot.objects.get()
    assert (slot.title, slot.all_day, slot.end) == ("Dentist", True, None)
    assert slot.start == datetime(2027, 3, 2, tzinfo=UTC)


def test_identical_rows_are_slots_of_their_own(api):
    data = csv_file(*["Standup,12/07/2026,09:00 AM,,,False,,,"] * 2)

    assert imported(api, data)["created"] == 2
    assert imported(api, data)["unchanged"] == 2


def test_problems_carry_the_line_each_row_begins_on(api):
    data = csv_file(
        'Kick-off,12/07/2026,09:00 AM,,,False,"two\r\nlines",,',
        "Bad date,13/45/2026,09:00 AM,,,False,,,",
        "Bad time,12/07/2026,25:00,,,False,,,",
        "Backwards,12/07/2026,09:00 AM,12/06/2026,09:00 AM,False,,,",
        "Bad flag,12/07/2026,09:00 AM,,,Maybe,,,",
        "Too wide,12/07/2026,09:00 AM,,,False,,,,extra",
    )

    assert problems(api, data) == [
        {"where": "line 4", "problem": "Start Date must be a date MM/DD/YYYY, not '13/45/2026'."},
        {"where": "line 5", "problem": "Start Time must be a time hh:mm AM/PM, not '25:00'."},
        {"where": "line 6", "problem": "The end is before the start."},
        {"where": "line 7", "problem": "All Day Event must be True or False, not 'maybe'."},
        {"where": "line 8", "problem": "The row has 10 cells; the header has 9."},
    ]
    assert not Slot.objects.exists()


def test_a_timed_row_needs_its_start_time(api):
    assert problems(api, csv_file("x,12/07/2026,,,,False,,,")) == [
        {"where": "line 2", "problem": "Start Time is empty."}
    ]


def test_a_header_without_rows_imports_nothing(api):
    assert imported(api, csv_file())["warnings"] == [{"where": "file", "warning": "The file holds no events."}]


@override_settings(IMPORT_MAX_RECORDS=2)
def test_more_rows_than_the_limit_is_422_even_when_rows_are_broken(api):
    assert problems(api, csv_file("a,x", "b,y", "c,z")) == [
        {"where": "file", "problem": "The file holds more than 2 records, the most one import takes."}
    ]
