"""What an iCalendar import may cost, whatever the file says: its zone rules and its folded lines.

Costs are counted, never timed: the steps a ZoneWork records, the characters unfolding copies.
"""
from datetime import datetime, timezone

import pytest

from export.formats.ical.lines import unfolded
from export.formats.ical.reader import read_ical
from export.formats.ical.zone_rules import CYCLE_YEARS, MAX_RULE_YEARS, MAX_ZONE_CHARACTERS, ZONE_WORK_STEPS, ZoneWork
from export.imports.records import ImportRejected, ReadContext
from export.tests.importing import calendar, imported, upload

UTC = timezone.utc
CONTEXT = ReadContext(time_zone="UTC", zone_named=False, max_records=10_000)
# Europe/Paris as Outlook writes it, from 1601; the RRULEs are lines 10 and 16 of a calendar().
PARIS = """BEGIN:VTIMEZONE
TZID:{tzid}
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:{standard}
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:{daylight}
END:DAYLIGHT
END:VTIMEZONE"""
# What a yearly rule expands at most, besides the years of its walk: a cycle of occurrences,
# the one after it, and its DTSTART.
YEARLY_OCCURRENCES = CYCLE_YEARS + 2
STANDARD, DAYLIGHT = "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"


def zone(tzid: str = "Paris", standard: str = STANDARD, daylight: str = DAYLIGHT) -> str:
    return PARIS.format(tzid=tzid, standard=standard, daylight=daylight)


def event(n: int, tzid: str, when: str) -> str:
    return f"UID:{n}\nDTSTART;TZID={tzid}:{when}"


def refused(text: str) -> tuple[list[dict], ZoneWork]:
    """read_ical()'s problems with the file, and the work its zones did before the refusal."""
    work = ZoneWork()
    with pytest.raises(ImportRejected) as rejected:
        read_ical(text, CONTEXT, work)
    return rejected.value.problems, work


def starts(text: str) -> tuple[list[datetime], ZoneWork]:
    work = ZoneWork()
    return [record.start for record in read_ical(text, CONTEXT, work).records], work


# Zone rules that repeat more often than any zone ---------------------------------------------


@pytest.mark.parametrize("frequency", ["MINUTELY;INTERVAL=2", "SECONDLY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY"])
@pytest.mark.parametrize("when", ["20300101T120000", "99991231T120000"])
def test_a_zone_repeating_every_minute_or_second_is_refused_at_its_rules_before_any_is_run(frequency, when):
    spinning = zone("Spin", standard=f"FREQ={frequency}", daylight=f"FREQ={frequency}")

    problems, work = refused(calendar(event(1, "Spin", when), head=spinning))

    name = frequency.split(";")[0]
    assert problems == [{
        "where": f"line {line}",
        "problem": f"A time zone's observance repeats at most yearly (FREQ=YEARLY); this one is FREQ={name}.",
    } for line in (10, 16)]
    assert work.spent == 0


def test_a_hundred_spinning_zones_each_used_once_are_refused_before_any_is_run(api):
    zones = [zone(f"Spin {n}", standard="FREQ=SECONDLY", daylight="FREQ=MINUTELY;INTERVAL=2") for n in range(100)]
    events = [event(n, f"Spin {n}", "20300101T120000") for n in range(100)]
    text = calendar(*events, head="\n".join(zones))

    problems, work = refused(text)

    assert problems[0]["where"] == "line 10" and "FREQ=SECONDLY" in problems[0]["problem"]
    assert problems[-1] == {"where": "file", "problem": "... and 101 more."}
    assert work.spent == 0
    assert upload(api, text).status_code == 422


@pytest.mark.parametrize("rule, problem", [
    ("FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU;BYHOUR=0,1,2,3;BYMINUTE=0,30",
     "A time zone's observance changes at one time of day (BYHOUR, BYMINUTE with one value)."),
    ("FREQ=YEARLY;INTERVAL=2;BYMONTH=3;BYDAY=-1SU",
     "A time zone's observance repeats every year (INTERVAL=1)."),
    ("FREQ=MINUTELY;FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
     "A time zone's observance names a part of its RRULE twice."),
])
def test_a_zone_rule_that_fans_out_or_skips_years_is_refused_at_its_line(rule, problem):
    problems, work = refused(calendar(event(1, "Paris", "20300101T120000"), head=zone(daylight=rule)))

    assert problems == [{"where": "line 16", "problem": problem}]
    assert work.spent == 0


def test_a_zone_leaving_out_occurrences_is_refused_at_the_line_that_does():
    excluding = zone().replace("END:DAYLIGHT", "EXDATE:20300331T020000\nEND:DAYLIGHT")

    problems, _ = refused(calendar(event(1, "Paris", "20300101T120000"), head=excluding))

    assert problems == [{
        "where": "line 17", "problem": "A time zone's observance cannot leave out occurrences (EXDATE).",
    }]


# Rules as real zones write them, at any date ---------------------------------------------------


@pytest.mark.parametrize("when, start", [
    ("20300101T120000", datetime(2030, 1, 1, 11, tzinfo=UTC)),
    ("20300701T120000", datetime(2030, 7, 1, 10, tzinfo=UTC)),
    ("99980101T120000", datetime(9998, 1, 1, 11, tzinfo=UTC)),
    ("99980701T120000", datetime(9998, 7, 1, 10, tzinfo=UTC)),
    ("16500701T120000", datetime(1650, 7, 1, 10, tzinfo=UTC)),
])
def test_a_real_zone_places_any_date_walking_at_most_two_cycles_of_its_rules(when, start):
    (placed,), work = starts(calendar(event(1, "Paris", when), head=zone()))

    assert placed == start
    assert 0 < work.spent <= 2 * (MAX_RULE_YEARS + YEARLY_OCCURRENCES)


def test_a_far_future_event_in_a_real_zone_imports_through_the_api(api):
    answer = imported(api, calendar(event(1, "Paris", "99980701T120000"), head=zone()))

    assert answer["created"] == 1


def test_the_most_zones_a_file_may_define_each_used_once_far_ahead_fit_the_work_of_one_import():
    zones = [zone(f"Paris {n}") for n in range(100)]
    events = [event(n, f"Paris {n}", f"9998{1 + n % 12:02}01T120000") for n in range(100)]

    placed, work = starts(calendar(*events, head="\n".join(zones)))

    assert [moment.hour for moment in placed] == [10 if 4 <= 1 + n % 12 <= 10 else 11 for n in range(100)]
    assert work.spent <= 200 * (MAX_RULE_YEARS + YEARLY_OCCURRENCES) <= ZONE_WORK_STEPS


def test_a_rule_changing_every_day_ends_the_import_at_the_event_that_runs_out_of_work():
    every_day = "FREQ=YEARLY;BYMONTH=1,2,3,4,5,6,7,8,9,10,11,12;BYMONTHDAY=" + ",".join(map(str, range(1, 32)))
    zones = [zone(f"Daily {n}", standard=every_day, daylight=every_day) for n in range(20)]
    events = [event(n, f"Daily {n}", "99980101T120000") for n in range(20)]
    work = ZoneWork(steps=20_000)

    with pytest.raises(ImportRejected) as rejected:
        read_ical(calendar(*events, head="\n".join(zones)), CONTEXT, work)

    (problem,) = rejected.value.problems
    assert problem["where"].startswith("line ")
    assert problem["problem"] == (
        "Placing this event's times in the file's time zones (VTIMEZONE) takes more than the 20,000 steps "
        "of their rules an import may take."
    )
    assert work.spent <= work.steps + MAX_RULE_YEARS


def test_a_zone_of_thousands_of_rdates_places_its_events_from_the_list():
    dates = [f"{year}0301T020000" for year in range(1700, 4700)]
    listed = "\n".join([
        "BEGIN:VTIMEZONE", "TZID:Listed",
        "BEGIN:STANDARD", "DTSTART:16010101T000000", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0000", "END:STANDARD",
        "BEGIN:DAYLIGHT", "DTSTART:16010301T020000", "TZOFFSETFROM:+0000", "TZOFFSETTO:+0100",
        "RDATE:" + ",".join(dates), "END:DAYLIGHT",
        "END:VTIMEZONE",
    ])

    (placed,), work = starts(calendar(event(1, "Listed", "40000601T120000"), head=listed))

    assert placed == datetime(4000, 6, 1, 11, tzinfo=UTC)
    assert work.spent <= len(dates) + 2


def test_a_zone_longer_than_any_real_one_is_refused_at_its_first_line_before_it_is_built():
    dates = ",".join(f"{year}0301T020000" for year in range(1700, 9999))
    assert len(dates) > MAX_ZONE_CHARACTERS
    listed = "\n".join([
        "BEGIN:VTIMEZONE", "TZID:Listed",
        "BEGIN:DAYLIGHT", "DTSTART:16010301T020000", "TZOFFSETFROM:+0000", "TZOFFSETTO:+0100",
        "RDATE:" + dates, "END:DAYLIGHT",
        "END:VTIMEZONE",
    ])

    problems, work = refused(calendar(event(1, "Listed", "40000601T120000"), head=listed))

    assert problems == [{
        "where": "line 4",
        "problem": f"A time zone (VTIMEZONE) takes at most {MAX_ZONE_CHARACTERS:,} characters; this one is longer.",
    }]
    assert work.spent == 0


# Folded lines ----------------------------------------------------------------------------------


class Counted(str):
    """A physical line that counts the characters of every string made by slicing it or adding to it."""

    copied = [0]

    def __add__(self, other):
        Counted.copied[0] += len(self) + len(other)
        return Counted(str.__add__(self, other))

    def __getitem__(self, key):
        piece = str.__getitem__(self, key)
        Counted.copied[0] += len(piece)
        return Counted(piece)


def test_unfolding_copies_each_character_of_a_folded_line_a_bounded_number_of_times():
    folds = 20_000
    lines = [Counted("DESCRIPTION:x"), *(Counted(" y") for _ in range(folds)), Counted("END:VEVENT")]
    Counted.copied[0] = 0

    (first, second) = list(unfolded(lines))

    assert first == (1, "DESCRIPTION:x" + "y" * folds)
    assert second == (folds + 2, "END:VEVENT")
    # Slicing the fold's space off copies each character once; building the line by adding each
    # fold to it would copy about folds² / 2 = 200 million.
    assert Counted.copied[0] <= 2 * sum(map(len, lines))
