"""Repeating events (RRULE, RDATE, EXDATE, RECURRENCE-ID) as the slots of their occurrences.

recurring-ical-events expands each series, as Google Calendar shows it, over the import's window
(records.RecurrenceWindow); x-wr-timezone first places Google's UTC and floating times in the
calendar's X-WR-TIMEZONE, so that a series keeps its wall-clock time across a change of offset.
Each series is expanded on its own, from copies of its events whose times are placed with the
file's own zones (reader.CalendarZones: bounded, never icalendar's shared table).

dateutil walks a rule from its DTSTART, and a rule that matches nothing (FREQ=DAILY;BYMONTH=2;
BYMONTHDAY=30) walks every period up to the year 9999 before it gives up. So a rule is walked on a
copy moved a whole number of 400-year cycles later (the Gregorian calendar repeats itself, weekdays
and leap days alike, every 400 years), whose walk ends within 400 years after the window, and each
walk is paid, before it starts, from the import's SeriesWork. docs/formats.md gives the figures.
"""
import heapq
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import MAXYEAR, date, datetime, timedelta, timezone
from typing import NamedTuple

import recurring_ical_events
import x_wr_timezone
from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule
from django.conf import settings
from django.utils.timezone import now as timezone_now
from icalendar import Calendar
from icalendar.cal import Component
from icalendar.prop import vDDDLists, vDDDTypes
from recurring_ical_events.util import compare_greater, convert_to_datetime

from export.formats.ical.work import Work
from export.formats.ical.zone_rules import ZoneWorkExhausted
from export.imports.records import (
    ImportProblem,
    ImportRejected,
    ImportWarning,
    RecurrenceWindow,
    SeriesSummary,
    SlotRecord,
    occurrence_uid,
    quoted,
    source_uid_for,
)

UTC = timezone.utc
# Marks each copy handed to recurring-ical-events with the event it was made from: an occurrence is
# a copy of its series' event (or of the edited occurrence), and keeps the mark.
SOURCE_MARK = "X-TIMESLOT-SOURCE"
DATE_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID")
DATE_LISTS = ("RDATE", "EXDATE")
ZONE_PARAMETERS = ("TZID", "VALUE")
CYCLE_YEARS = 400
# What one period of a rule costs to walk, in steps of a microsecond or more: what a rule that gives a
# zoned occurrence every period was measured to cost (a day 2.6 µs, a week 3.5, a month 6.3, a year
# 33); one that matches nothing costs less (1.2, 2.2, 3.5 and 24 µs).
PERIOD_STEPS = {YEARLY: 35, MONTHLY: 7, WEEKLY: 4, DAILY: 3}
PERIOD_DAYS = {YEARLY: 365.2425, MONTHLY: 30.436875, WEEKLY: 7, DAILY: 1}
FREQUENCY_NAMES = {4: "HOURLY", 5: "MINUTELY", 6: "SECONDLY"}
# What one import may spend walking its series' rules: at most about 3 s of one CPU. A daily series
# begun in 2015 takes about 15,000 steps to walk to the end of the default window, a weekly one 2,800,
# one begun in the year 2 2,200,000; a daily rule that matches nothing 416,000 at most.
SERIES_WORK_STEPS = 3_000_000
CANCELLED = "CANCELLED"
# What the expansion reads of a series' events (recurring-ical-events, version(), is_cancelled()): all that is
# kept of them until the file's end.
SERIES_READS = ("UID", "DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "EXRULE", "RECURRENCE-ID",
                "SEQUENCE", "LAST-MODIFIED", "STATUS")
QUERY_MARGIN = timedelta(days=2)


class SeriesRefused(Exception):
    """A series whose rule an import does not walk; its argument says why."""


class SeriesWorkExhausted(Exception):
    """The file's series take more walking than an import may do."""


class SeriesWork(Work):
    """The steps an import's series rules have taken, and how many they may take."""

    STEPS = SERIES_WORK_STEPS
    exhausted = SeriesWorkExhausted


@dataclass
class SeriesEvent:
    """One VEVENT of a file as the series code needs it: its record, and where it came from."""

    record: SlotRecord
    recurrence_id: datetime | None
    event: Component
    zones: object  # reader.CalendarZones: places the event's times
    repeats: bool  # RRULE or RDATE


def recurrence_window(now: datetime | None = None) -> RecurrenceWindow:
    """The window and caps the settings give an import at this moment (IMPORT_RECURRENCE_*).

    The window holds whole days (UTC): every import of one day reads a series alike, and a daily
    series makes PAST_DAYS + FUTURE_DAYS + 1 occurrences in it (1,096 by default).
    """
    today = datetime.combine((timezone_now() if now is None else now).astimezone(UTC).date(), datetime.min.time(),
                             tzinfo=UTC)
    return RecurrenceWindow(
        start=today - timedelta(days=settings.IMPORT_RECURRENCE_PAST_DAYS),
        end=today + timedelta(days=settings.IMPORT_RECURRENCE_FUTURE_DAYS + 1),
        per_series=settings.IMPORT_MAX_OCCURRENCES_PER_SERIES,
        max_slots=settings.IMPORT_MAX_OCCURRENCES,
    )


class Expansion:
    """A file's repeating events as the slot records of their occurrences, each series expanded as soon as the
    file has given all of its events (the reader knows how many there are), so that none waits for the file's end.

    An edited occurrence is an event of the same UID; so is an edited copy of one event, of which the newest is
    kept. What is not a series (one event and its edits, copies) becomes its records as it is.
    """

    def __init__(self, window: RecurrenceWindow, warnings: list[ImportWarning], work: SeriesWork | None = None):
        self.window, self.warnings = window, warnings
        self.work = SeriesWork() if work is None else work
        self.problems: list[ImportProblem] = []
        self.series: list[SeriesSummary] = []
        # The series whose every occurrence in the window was made: their earlier occurrences that
        # are no longer there may go.
        self.expanded: set[str] = set()
        self.cancelled = 0

    def of(self, uid: str, items: list[SeriesEvent], made: int) -> list[SlotRecord]:
        """The records of the events of one UID; made is how many records the file made before them."""
        window, warnings, work = self.window, self.warnings, self.work
        masters = newest([item for item in items if item.recurrence_id is None], warnings)
        edits = edited_occurrences([item for item in items if item.recurrence_id is not None], warnings)
        if len(masters) != 1 or not masters[0].repeats:
            # One event (or copies the file does not tell apart: the import refuses those), with
            # the occurrences it edits, if any, as events of their own.
            self.cancelled += sum(map(is_cancelled_item, [*masters, *edits]))
            return single(uid, *held_events(masters, edits))
        # One more than the file has room for is enough to tell that it has too many.
        limit = min(window.per_series, window.max_slots - made + 1)
        try:
            records, capped = occurrences(uid, masters[0], edits, window, limit, work)
        except SeriesRefused as refused:
            self.problems.append({"where": masters[0].record.where, "problem": str(refused)})
            return []
        except SeriesWorkExhausted:
            raise ImportRejected([*self.problems, {
                "where": masters[0].record.where,
                "problem": f"Expanding the file's repeating events takes more than the {work.steps:,} steps "
                "an import may take; import fewer of them, or ones that begin later.",
            }])
        except ZoneWorkExhausted as exhausted:
            raise ImportRejected([*self.problems, {
                "where": masters[0].record.where,
                "problem": f"Placing this series' occurrences in the file's time zones (VTIMEZONE) takes more "
                f"than the {exhausted.args[0]:,} steps of their rules an import may take.",
            }])
        except Exception as error:
            # Whatever recurring-ical-events or dateutil trip on in a malformed series (a rule
            # icalendar could not read, dates mixed with times): its first occurrence, as before.
            warnings.append({
                "where": masters[0].record.where,
                "warning": f"{quoted(masters[0].record.title)} repeats, but its occurrences could not be worked "
                f"out ({quoted(str(error))}); only its first occurrence was imported.",
            })
            records, capped = [first_occurrence(uid, masters[0])], False
        else:
            if not capped:
                # Every occurrence of the window is here: the others imported before are gone from the series.
                self.expanded.add(source_uid_for(uid))
        if capped and limit == window.per_series:
            warnings.append({
                "where": masters[0].record.where,
                "warning": f"{quoted(masters[0].record.title)} has more occurrences in the import's window than "
                f"the {limit:,} an import makes of one series; only the first {limit:,} were imported.",
            })
        if made + len(records) > window.max_slots:
            raise ImportRejected([*self.problems, too_many_slots(window)])
        self.series.append({
            "uid": uid,
            "title": masters[0].record.title,
            "where": masters[0].record.where,
            "occurrences": len(records),
            "capped": capped,
        })
        return records

    def finish(self, made: int, cancelled: int) -> None:
        """The file's end: made records in all, cancelled events left out besides those of of()."""
        if self.problems:
            raise ImportRejected(self.problems)
        if made > self.window.max_slots:
            raise ImportRejected([too_many_slots(self.window)])
        if count := cancelled + self.cancelled:
            # As a cancelled occurrence or series makes none: Google, Outlook and Apple show no cancelled event.
            self.warnings.append({"where": "file", "warning": f"{count:,} cancelled event(s) (STATUS:CANCELLED) "
                                  "were not imported."})


def is_cancelled_item(item: SeriesEvent) -> bool:
    return is_cancelled(item.event)


def is_cancelled(event: Component) -> bool:
    return str(event.get("STATUS", "")).strip().upper() == CANCELLED


def held_events(masters: list[SeriesEvent], edits: list[SeriesEvent]) -> tuple[list, list]:
    """The events and edited occurrences outside any series that are not cancelled."""
    return (
        [item for item in masters if not is_cancelled_item(item)],
        [item for item in edits if not is_cancelled_item(item)],
    )


def too_many_slots(window: RecurrenceWindow) -> ImportProblem:
    return {
        "where": "file",
        "problem": f"The file's events and the occurrences of its repeating events make more than "
        f"{window.max_slots:,} slots, the most one import makes.",
    }


def version(item: SeriesEvent) -> tuple:
    """What orders two copies of one event: SEQUENCE (RFC 5545 §3.8.7.4), then LAST-MODIFIED."""
    try:
        sequence = int(item.event.get("SEQUENCE", 0))
    except (TypeError, ValueError):
        sequence = 0
    modified = getattr(item.event.get("LAST-MODIFIED"), "dt", None)
    if not isinstance(modified, datetime):
        modified = None
    elif modified.tzinfo is None:
        modified = modified.replace(tzinfo=UTC)
    return sequence, modified.astimezone(UTC) if modified else datetime.min.replace(tzinfo=UTC)


def newest(items: list[SeriesEvent], warnings: list[ImportWarning]) -> list[SeriesEvent]:
    """Of edited copies of one event, the newest, with a warning for each other; all of them when
    no SEQUENCE or LAST-MODIFIED tells the newest (two versions the file does not order)."""
    if len(items) < 2:
        return items
    versions = [version(item) for item in items]
    latest = max(versions)
    if versions.count(latest) > 1:
        return items
    kept = items[versions.index(latest)]
    for item in items:
        if item is not kept:
            warnings.append({
                "where": item.record.where,
                "warning": f"An older copy of the event at {kept.record.where} (its SEQUENCE or LAST-MODIFIED "
                "is earlier); only the newest was imported.",
            })
    return [kept]


def edited_occurrences(items: list[SeriesEvent], warnings: list[ImportWarning]) -> list[SeriesEvent]:
    """The events that edit one occurrence each (RECURRENCE-ID), the newest copy of each."""
    by_occurrence: dict[datetime, list[SeriesEvent]] = {}
    for item in items:
        by_occurrence.setdefault(item.recurrence_id, []).append(item)
    return [kept for copies in by_occurrence.values() for kept in newest(copies, warnings)]


def single(uid: str, masters: list[SeriesEvent], edits: list[SeriesEvent]) -> list[SlotRecord]:
    """An event that does not repeat, and the occurrences it edits: the one that edits its start is the
    event; any other, like an edited occurrence whose series is not in the file, is an event of its own,
    known as the occurrence it is, so that the series, imported later, finds it."""
    records = [item.record for item in masters]
    for item in edits:
        if len(masters) == 1 and item.recurrence_id == masters[0].record.start:
            records[0] = replace(item.record, source_uid=masters[0].record.source_uid)
        else:
            records.append(as_occurrence(item.record, uid, identity(item.event, "RECURRENCE-ID", item.zones)))
    return records


def first_occurrence(uid: str, master: SeriesEvent) -> SlotRecord:
    return as_occurrence(master.record, uid, identity(master.event, "DTSTART", master.zones))


def as_occurrence(record: SlotRecord, uid: str, moment) -> SlotRecord:
    """The record known as an occurrence of the series: never the user's own slot of that uuid (the
    series has many occurrences), but the series' UID and the occurrence's original start."""
    return replace(
        record, uid=None, source_uid=occurrence_uid(uid, recurrence_text(moment)), source_series=source_uid_for(uid)
    )


def identity(event: Component, name: str, zones):
    """A property's moment as the expansion reads it: placed, and a floating time in X-WR-TIMEZONE."""
    prop = event[name]
    prop = prop[0] if isinstance(prop, list) else prop
    value = placed(prop.dt, prop.params, zones)
    named = getattr(zones, "calendar_zone", None)
    if named and isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=zoneinfo.ZoneInfo(named))
    return value


def occurrences(uid: str, master: SeriesEvent, edits: list[SeriesEvent], window: RecurrenceWindow, limit: int,
                work: SeriesWork) -> tuple[list[SlotRecord], bool]:
    """The series' occurrences that start in the window, the first `limit` of them; and whether there
    were more."""
    sources = [master, *edits]
    calendar = Calendar()
    for index, item in enumerate(sources):
        calendar.add_component(placed_copy(item, index))
    named = getattr(master.zones, "calendar_zone", None)
    if named:
        calendar = x_wr_timezone.to_standard(calendar, timezone=zoneinfo.ZoneInfo(named))
    # Each edit and EXDATE may take the place of a start the rule gives: the walk goes that much further.
    walk = Walk(work, limit + 1 + len(edits) + exdate_count(master.event))
    query = recurring_ical_events.of(calendar, components=[recurring_ical_events.ComponentsWithName(
        "VEVENT", adapter=MarkedEvent, series=bounded_series(walk), occurrence=FoundOccurrence,
    )])
    records: dict[str, SlotRecord] = {}
    # Floating times and dates are compared with the window as if they were UTC: a margin of two days
    # lets in every occurrence that starts in the window, whatever its zone; holds() then decides.
    for found in query.between(window.start - QUERY_MARGIN, window.end + QUERY_MARGIN):
        if is_cancelled(found.event):
            continue
        source = sources[int(str(found.event[SOURCE_MARK]))]
        record = occurrence_record(found.start, found.end, source)
        if not window.holds(record.start):
            continue
        original = found.start
        if source.recurrence_id is not None:
            original = found.event["RECURRENCE-ID"].dt
            if record is not source.record:
                # An occurrence after an edit of RANGE=THISANDFUTURE, moved as the edit moved its own: its
                # own RECURRENCE-ID is where the rule put it.
                original = found.start - (
                    identity(source.event, "DTSTART", source.zones)
                    - identity(source.event, "RECURRENCE-ID", source.zones)
                )
        record = as_occurrence(record, uid, original)
        records.setdefault(record.source_uid, record)
    found = sorted(records.values(), key=lambda record: (record.start, record.source_uid))
    return found[:limit], walk.capped or len(found) > limit


def exdate_count(event: Component) -> int:
    values = event.get("EXDATE", [])
    return sum(len(value.dts) for value in (values if isinstance(values, list) else [values]))


def placed_copy(item: SeriesEvent, index: int) -> Component:
    """A copy of the event whose times are placed with the file's zones, marked with its index."""
    copy = item.event.copy()
    for name in DATE_PROPERTIES:
        if name in item.event:
            prop = item.event[name]
            prop = prop[0] if isinstance(prop, list) else prop
            copy[name] = vDDDTypes(placed(prop.dt, prop.params, item.zones))
            # RANGE=THISANDFUTURE and the like stay; the zone is now the value's own.
            copy[name].params.update((key, value) for key, value in prop.params.items() if key not in ZONE_PARAMETERS)
    for name in DATE_LISTS:
        if name in item.event:
            values = item.event[name]
            copy[name] = [
                vDDDLists([placed_value(value.dt, lists.params, item.zones) for value in lists.dts])
                for lists in (values if isinstance(values, list) else [values])
            ]
    copy[SOURCE_MARK] = str(index)
    return copy


def placed_value(value, params, zones):
    """An RDATE's or EXDATE's value placed: a date, a date-time, or a period of them (RFC 5545 §3.3.9)."""
    if isinstance(value, tuple):
        return tuple(item if not isinstance(item, (date, datetime)) else placed(item, params, zones) for item in value)
    return placed(value, params, zones)


def placed(value, params, zones):
    """A date or date-time as reader.CalendarZones.moment() reads it, still in its own zone."""
    if isinstance(value, datetime) and str(params.get("VALUE", "")).upper() == "DATE":
        return value.date()
    if not isinstance(value, datetime):
        return value
    tzid = str(params.get("TZID", ""))
    if tzid:
        zone = zones.tz(tzid)
        return value.replace(tzinfo=zone if zone is not None else zoneinfo.ZoneInfo(zones.zone))
    return value


def recurrence_text(value) -> str:
    """Which occurrence of its series a moment is, as RFC 5545 writes it: a date, a UTC time, or a
    floating time (the same wall-clock time in any zone the file is read in)."""
    if not isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    if value.tzinfo is None:
        return value.strftime("%Y%m%dT%H%M%S")
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def occurrence_record(start, end, source: SeriesEvent) -> SlotRecord:
    """One occurrence as a slot record: an edited occurrence as its own event reads, any other as its
    series' event moved to the occurrence's start."""
    base = source.record
    zone = zoneinfo.ZoneInfo(base.time_zone)
    if base.all_day:
        day = start.date() if isinstance(start, datetime) else start
        length = None if base.end is None else base.end.astimezone(zone).date() - base.start.astimezone(zone).date()
        end = None if length is None else midnight(day + length, zone)
        moved_to = replace(base, start=midnight(day, zone), end=end)
    else:
        begins = instant(start, zone)
        if base.end is None or base.end == base.start:
            moved_to = replace(base, start=begins, end=None if base.end is None else begins)
        else:
            moved_to = replace(base, start=begins, end=max(begins, instant(end, zone)))
    if source.recurrence_id is not None and moved_to.start == base.start:
        # The edited occurrence itself, which the reader read with every rule of an event of its own.
        return base
    return moved_to


def instant(value, zone: zoneinfo.ZoneInfo) -> datetime:
    if not isinstance(value, datetime):
        value = datetime.combine(value, datetime.min.time())
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def midnight(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)


class Walk:
    """The rules of one series, walked at a bounded cost: at most `limit` starts, each rule paid before
    it walks."""

    def __init__(self, work: SeriesWork, limit: int):
        self.work = work
        self.limit = limit
        self.capped = False

    def starts(self, rules: list, start: datetime, stop: datetime) -> Iterator[datetime]:
        """The starts the series' rules give from start to stop, in order, as recurring-ical-events
        takes them (a start past a rule's UNTIL is not one)."""
        walks = [self.rule(rule, start, stop) for rule in rules]
        for count, moment in enumerate(heapq.merge(*walks)):
            if count >= self.limit:
                self.capped = True
                return
            yield moment

    def rule(self, rule, start: datetime, stop: datetime) -> Iterator[datetime]:
        until = getattr(rule, "until", None)
        if isinstance(rule, rrule):
            moments = self.walked(rule, start, stop)
        else:
            # The series' RDATEs and DTSTART (recurring-ical-events keeps them in a set of their own).
            self.work.charge(len(rule._rdate))
            moments = iter(rule.between(start, stop, inc=True))
        for moment in moments:
            if until is None or not compare_greater(moment, until):
                yield moment

    def walked(self, rule: rrule, start: datetime, stop: datetime) -> Iterator[datetime]:
        frequency = rule._freq
        if frequency not in PERIOD_STEPS:
            raise SeriesRefused(
                f"The event repeats more often than daily (FREQ={FREQUENCY_NAMES.get(frequency, frequency)}); an "
                "import expands series that repeat at most daily."
            )
        first = rule._dtstart
        if compare_greater(first, stop):
            return
        if rule._until is not None and compare_greater(start, rule._until):
            # It ended before the window: nothing to walk.
            return
        cycles = max(0, (MAXYEAR - 1 - stop.year) // CYCLE_YEARS)
        end = moved(stop, cycles)
        # The walk ends at the window's end, or at UNTIL before it.
        last = stop if rule._until is None or compare_greater(rule._until, stop) else rule._until
        days = (naive(last) - naive(first)).days + 1
        if may_pause(rule):
            # A rule that can go long without an occurrence walks on to the year 9999 after the window.
            days += (datetime(MAXYEAR, 12, 31) - naive(end)).days
        periods = int(days / (PERIOD_DAYS[frequency] * rule._interval)) + 1
        if rule._count and every_period_occurs(rule):
            # Each period gives an occurrence: COUNT of them end the walk after as many periods.
            periods = min(periods, rule._count + 1)
        self.work.charge(periods * PERIOD_STEPS[frequency] * max(1, len(rule._timeset or ())))
        until = rule._until
        # An UNTIL after the window ends nothing the window's end does not end first.
        until = None if until is None or compare_greater(until, stop) else moved(until, cycles)
        # Not cached: the walk is done once, and a cache would keep every start it passed.
        copy = rule.replace(dtstart=moved(first, cycles), until=until, cache=False)
        begin = moved(start, cycles)
        for moment in copy:
            if moment > end:
                return
            if moment >= begin:
                yield moved(moment, -cycles)


def may_pause(rule: rrule) -> bool:
    """Whether some periods of the rule may hold no occurrence (Friday the 13th, February 30th, the 5th
    Monday): then its walk may go on far past the window before it finds the next one, or none."""
    if rule._bysetpos or rule._byyearday or rule._byweekno or rule._byeaster:
        return True
    monthdays, negative = rule._bymonthday or (), rule._bynmonthday or ()
    weekdays, ordinals = rule._byweekday or (), rule._bynweekday or ()
    if (monthdays or negative) and (weekdays or ordinals):
        return True
    if any(day > 28 for day in monthdays) or any(day < -28 for day in negative):
        return True
    return any(abs(ordinal) > 4 for _, ordinal in ordinals)


def every_period_occurs(rule: rrule) -> bool:
    """Whether each period of the rule holds an occurrence: no period a BYxxx part may leave empty (a
    yearly rule's one month and day, which dateutil fills in from DTSTART, are in every year unless
    may_pause() says so; a weekly rule's weekdays are in every week)."""
    if may_pause(rule):
        return False
    frequency = rule._freq
    if frequency != YEARLY and rule._bymonth:
        return False
    if frequency == DAILY and (rule._byweekday or rule._bynweekday or rule._bymonthday or rule._bynmonthday):
        return False
    return not (frequency == WEEKLY and (rule._bymonthday or rule._bynmonthday))


def naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


def moved(moment: datetime, cycles: int) -> datetime:
    """The same wall-clock time, weekday and all, a whole number of 400-year cycles later (or earlier)."""
    return moment.replace(year=moment.year + cycles * CYCLE_YEARS) if cycles else moment


class Found(NamedTuple):
    """An occurrence as recurring-ical-events found it: its times, and the (marked) event it is of."""

    start: date | datetime
    end: date | datetime
    event: Component


class MarkedEvent(recurring_ical_events.EventAdapter):
    """recurring-ical-events' VEVENT, which tells the event it reads."""

    @property
    def event(self) -> Component:
        return self._component


class FoundOccurrence(recurring_ical_events.Occurrence):
    """An occurrence handed over as its times and event: a copy of the event for each (recurring-ical-events'
    own answer) costs more than the rest of its import."""

    def as_component(self, keep_recurrence_attributes: bool) -> Found:
        return Found(self.start, self.end, self._adapter.event)


def bounded_series(walk: Walk):
    """recurring-ical-events' Series, whose rules are walked by walk."""

    class BoundedRules(recurring_ical_events.Series.RecurrenceRules):
        def rrule_between(self, span_start, span_stop):
            yield from walk.starts(
                self.rrules, convert_to_datetime(span_start, self.tzinfo), convert_to_datetime(span_stop, self.tzinfo)
            )

    class BoundedSeries(recurring_ical_events.Series):
        RecurrenceRules = BoundedRules

    return BoundedSeries
