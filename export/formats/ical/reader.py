"""iCalendar files as slot records: Google, Outlook/Exchange, Apple and Thunderbird exports, and ours.

docs/calendar-format.md says how a slot becomes an event; this reads it back, and what other
clients write (TZID and VTIMEZONE, Windows zone names, X-WR-TIMEZONE, floating times, dates).
A file is read a line at a time and an event at a time, never as one tree: what an import holds
does not grow with the file (docs/performance.md).
"""
import zoneinfo
from collections import Counter
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import BinaryIO, NamedTuple
from warnings import filterwarnings

from icalendar import Event
from icalendar.cal import Component
from icalendar.cal.component_factory import ComponentFactory
from icalendar.error import GloballyUniqueTZIDGuessed
from icalendar.parser.content_line import Contentline
from icalendar.parser.ical.component import ComponentIcalParser
from icalendar.timezone import tzp

from export.formats.ical.lines import CalendarSource, boundary, property_name, property_value, raw_value
from export.formats.ical.mapping import OPEN_END, OPEN_END_ALL_DAY, ZERO_LENGTH_MARK
from export.formats.ical.not_held import PROPERTIES as UNHELD_PROPERTIES
from export.formats.ical.not_held import NotHeld, ReadCalendar, unheld_count
from export.formats.ical.property_errors import read_errors, without_broken
from export.formats.ical.series import SERIES_READS, Expansion, SeriesEvent, is_cancelled, recurrence_window
from export.formats.ical.survey import CUT_SHORT, MAX_TIME_ZONES, Shell, Survey, surveyed
from export.formats.ical.zone_rules import ZoneWork, ZoneWorkExhausted, bounded
from export.formats.ical.zones import iana_zone, is_iana
from export.imports.records import (
    OUT_OF_RANGE,
    ImportProblem,
    ImportRejected,
    ImportWarning,
    ReadContext,
    Reading,
    SlotRecord,
    content_key,
    quoted,
    source_uid_for,
)
from slots.models import Slot

# RFC 5545 §3.8.1.3, as docs/calendar-format.md maps it; no CLASS, or an unknown one, is private.
VISIBILITY_BY_CLASS = {
    "PUBLIC": Slot.Visibility.PUBLIC,
    "CONFIDENTIAL": Slot.Visibility.FRIENDS,
    "PRIVATE": Slot.Visibility.PRIVATE,
}
# Properties whose errors reject nothing: the first occurrence is DTSTART whatever the rule
# says (RFC 5545 §3.8.5.3), and Microsoft CDO writes rules icalendar refuses ("BYDAY=MO, TU"):
# such a series is imported as its first occurrence, with a warning (series.py).
IGNORED_ERRORS = frozenset({"RRULE"})
UTC = timezone.utc
# icalendar warns, once per process, when it strips a vendor's path from a TZID: the import places
# times itself (CalendarZones, zones.iana_zone), by the same rule, so the warning says nothing to act on.
filterwarnings("ignore", category=GloballyUniqueTZIDGuessed)


class Unreadable(Exception):
    """An event that cannot become a slot; its arguments say why."""


class EventSource:
    """A VEVENT's content lines as the reading meets them, each with the number of the line it begins on: all
    of them, those parsed, and how many of each thing a slot does not hold it has. Those (attendees,
    alarms...) are counted from their lines, never parsed."""

    def __init__(self):
        self.lines: list[tuple[int, str]] = []
        self.parsed: list[tuple[int, str]] = []
        self.unheld: dict[str, int] = {}
        self.depth = self.alarm = 0

    @property
    def line(self) -> int:
        return self.lines[0][0]

    def add(self, number: int, line: str, kind: tuple[str, str] | None) -> None:
        """The next line, and its boundary() (read once, by the reading)."""
        self.lines.append((number, line))
        if kind is not None:
            self.depth += 1 if kind[0] == "BEGIN" else -1
            if kind == ("BEGIN", "VALARM") and self.depth == 2 and not self.alarm:
                self.alarm = self.depth
                self.count("VALARM", 1)
            elif self.alarm and self.depth < self.alarm:
                self.alarm = 0
                return
        elif self.depth == 1 and (name := property_name(line)) in UNHELD_PROPERTIES:
            if property_value(line) is not None:
                self.count(name, unheld_count(name, raw_value(line)))
                return
            # A line that does not even split is parsed, for its warning (property_errors.py).
        if not self.alarm:
            self.parsed.append((number, line))

    def count(self, name: str, count: int) -> None:
        self.unheld[name] = self.unheld.get(name, 0) + count


class Moment(NamedTuple):
    """A DTSTART or DTEND as a slot needs it."""

    value: date | datetime  # a date (all day), or a datetime in UTC
    zone: str  # the IANA zone it belongs to
    zone_named: bool  # False when that zone is only the import's default
    wall_clock: bool  # a floating time or a date, which moves with its zone


class ReadEvent(NamedTuple):
    record: SlotRecord
    # RECURRENCE-ID: which occurrence of a series this event changes (RFC 5545 §3.8.4.4).
    recurrence_id: datetime | None
    # RRULE or RDATE: a series, expanded into its occurrences (series.py).
    repeats: bool = False


class NotParsed(Exception):
    """icalendar could not parse a component; its arguments are the line it stopped at and its message."""


def read_ical(source: str | bytes | BinaryIO | CalendarSource, context: ReadContext, work: ZoneWork | None = None,
              records: list[SlotRecord] | None = None) -> Reading:
    """The events of an iCalendar file as slot records; ImportRejected with every problem found.

    The file is read twice, a line at a time: surveyed (survey.py), then each event parsed on its own
    and handed to records (a list unless one is given: the import's spool) as soon as it is read, unless
    it is part of a series, which is expanded at the file's end. work counts the steps the file's zone
    rules take (a new ZoneWork, unless one is given).
    """
    work = ZoneWork() if work is None else work
    records = [] if records is None else records
    source = source if isinstance(source, CalendarSource) else CalendarSource(source)
    unheld = NotHeld()
    survey = surveyed(source, unheld, context.max_records)
    if survey.events > context.max_records:
        raise context.too_many()
    if survey.unpaired:
        raise ImportRejected([{"where": survey.unpaired, "problem": CUT_SHORT}])
    if survey.zones > MAX_TIME_ZONES:
        raise ImportRejected([{
            "where": "file",
            "problem": f"The file defines {survey.zones:,} time zones (VTIMEZONE); an import takes at most "
            f"{MAX_TIME_ZONES}.",
        }])
    if survey.problems:
        raise ImportRejected(survey.problems)
    factory = ReadCalendar._get_component_factory()
    try:
        reading = EventsReading(survey, context, work, records, unheld, factory)
        reading.read(source)
        return reading.result()
    finally:
        # icalendar keeps every VTIMEZONE it parses in one table for the whole process, by TZID,
        # first definition wins, never forgotten: one user's file would bend the times of the next
        # file that uses the same name, and made-up names would grow memory without end. Times
        # are placed with each file's own definitions (CalendarZones); the table starts empty again.
        tzp.use(tzp.name)


class EventsReading:
    """The second reading of a file: its calendars' zones, then each event, as it comes, as a record."""

    def __init__(self, survey: Survey, context: ReadContext, work: ZoneWork, records: list[SlotRecord],
                 unheld: NotHeld, factory: ComponentFactory):
        self.survey, self.context, self.work, self.records, self.unheld = survey, context, work, records, unheld
        self.factory = factory
        self.warnings: list[ImportWarning] = []
        self.problems: list[ImportProblem] = []
        self.keys: Counter = Counter()
        # The events of a UID that is not alone (a series, edited occurrences, copies of one event), kept
        # until the file has given them all.
        self.held: dict[str, list[SeriesEvent]] = {}
        self.cancelled = 0
        self.expansion = Expansion(context.recurrence or recurrence_window(), self.warnings)
        self.calendars = [self.calendar_zones(shell) for shell in survey.shells]
        if self.problems:
            raise ImportRejected(self.problems)

    def calendar_zones(self, shell: Shell) -> "CalendarZones | None":
        try:
            (calendar,) = parsed(shell.lines, self.factory)
        except NotParsed as error:
            self.problems.append(not_readable(*error.args))
            return None
        return CalendarZones(calendar, self.context, self.warnings, self.work)

    def read(self, source: CalendarSource) -> None:
        depth, calendar = 0, -1
        event: EventSource | None = None
        for number, line in source.logical_lines("Reading"):
            kind = boundary(line)
            if kind is not None and kind[0] == "BEGIN":
                depth += 1
                calendar += depth == 1
                if event is None and kind[1] == "VEVENT":
                    event = EventSource()
            elif kind is not None:
                depth -= 1
            if event is not None:
                event.add(number, line, kind)
                if not event.depth:
                    self.event(event, self.calendars[calendar])
                    event = None

    def event(self, source: EventSource, zones: "CalendarZones") -> None:
        """One VEVENT: parsed, read, and handed over or held for its series."""
        self.unheld.event(source.unheld)
        try:
            (event,) = parsed(source.parsed, self.factory)
            record, recurrence_id, repeats = read_event(event, source, zones, self.keys, self.warnings)
        except NotParsed as error:
            self.problems.append(not_readable(*error.args))
            return
        except Unreadable as unreadable:
            self.problems.extend({"where": f"line {source.line}", "problem": reason} for reason in unreadable.args)
            return
        except OverflowError:
            self.problems.append({"where": f"line {source.line}", "problem": OUT_OF_RANGE})
            return
        except ZoneWorkExhausted:
            raise ImportRejected([*self.problems, {
                "where": f"line {source.line}",
                "problem": f"Placing this event's times in the file's time zones (VTIMEZONE) takes more "
                f"than the {self.work.steps:,} steps of their rules an import may take.",
            }])
        if self.survey.alone(record.uid) or (record.uid is None and not repeats):
            if is_cancelled(event):
                self.cancelled += 1
            elif not self.problems:
                self.records.append(record)
        else:
            # A series without a UID is known by its content, as an event without one is.
            uid = record.uid or record.source_uid
            items = self.held.setdefault(uid, [])
            items.append(SeriesEvent(record, recurrence_id, for_series(event), zones, repeats))
            if len(items) >= self.survey.count(uid):
                self.expand(self.held.pop(uid), uid)

    def expand(self, items: list[SeriesEvent], uid: str) -> None:
        if self.problems:
            return
        try:
            self.records.extend(self.expansion.of(uid, items, len(self.records)))
        except OverflowError:
            self.problems.append({"where": items[0].record.where, "problem": OUT_OF_RANGE})

    def result(self) -> Reading:
        # Events whose survey counted more of their UID than were read (one that could not be parsed).
        for uid, items in list(self.held.items()):
            self.expand(items, uid)
        if self.problems:
            raise ImportRejected(self.problems)
        self.expansion.finish(len(self.records), self.cancelled)
        self.warnings.extend(self.unheld.warnings())
        names = [shell.name for shell in self.survey.shells if shell.name is not None]
        return Reading(self.records, self.warnings, tuple(self.expansion.series), frozenset(self.expansion.expanded),
                       " ".join(names[0].split()) or None if names else None)


def for_series(event: Component) -> Component:
    """What the expansion of a series reads of one of its events; nothing else is kept to the file's end."""
    kept = Event()
    for name in SERIES_READS:
        if name in event:
            kept[name] = event[name]
    return kept


def parsed(lines: list[tuple[int, str]], factory: ComponentFactory) -> list[Component]:
    """The component of these lines, as icalendar parses it; NotParsed with the line it stopped at."""
    parser = LineCountingParser(lines, factory)
    try:
        components = parser.parse()
    except Exception as error:
        # Whatever icalendar trips on in a malformed component (ValueError mostly, and also
        # AttributeError or TypeError when END lines close the wrong component) is the file's fault.
        raise NotParsed(parser.numbers[max(parser.read, 1) - 1], error)
    if len(components) != 1:
        raise NotParsed(lines[0][0], "BEGIN and END lines do not pair up")
    return components


def not_readable(line: int, error) -> ImportProblem:
    return {"where": f"line {line}", "problem": f"Not a readable iCalendar file: {error}"}


class LineCountingParser(ComponentIcalParser):
    """icalendar's own parser, fed one content line at a time, that remembers how far it got."""

    def __init__(self, lines: list[tuple[int, str]], factory: ComponentFactory):
        super().__init__([Contentline(line) for _, line in lines], factory, ReadCalendar.types_factory)
        self.numbers = [number for number, _ in lines]
        self.read = 0

    def initialize_parsing(self):
        super().initialize_parsing()
        self._content_lines_iterator = self.counted(self._content_lines_iterator)

    def counted(self, lines):
        for self.read, line in enumerate(lines, start=1):
            yield line


class CalendarZones:
    """Where one calendar's times live: its VTIMEZONEs, IANA and Windows names, X-WR-TIMEZONE."""

    def __init__(self, calendar: Component, context: ReadContext, warnings: list[ImportWarning], work: ZoneWork):
        self.work = work
        self.definitions = {str(zone["TZID"]): zone for zone in calendar.walk("VTIMEZONE") if "TZID" in zone}
        self.built: dict[str, tzinfo | None] = {}
        # Google and Apple name the calendar's zone in X-WR-TIMEZONE: floating times and
        # dates are read in it, before the import's default.
        named = str(calendar.get("X-WR-TIMEZONE", "")).strip()
        self.zone, self.zone_named = context.time_zone, context.zone_named
        # The zone x-wr-timezone moves the calendar's UTC and floating times to before a series is expanded.
        self.calendar_zone: str | None = None
        if named and iana_zone(named):
            self.zone, self.zone_named = iana_zone(named), True
            self.calendar_zone = self.zone
        elif named:
            warnings.append({
                "where": "file",
                "warning": f"X-WR-TIMEZONE {quoted(named)} is not a time zone; times without one were read in "
                f"{self.zone}.",
            })

    def tz(self, tzid: str) -> tzinfo | None:
        """The zone a TZID names: an IANA zone, else the file's own VTIMEZONE, else a Windows name's IANA zone."""
        if is_iana(tzid):
            return zoneinfo.ZoneInfo(tzid)
        if tzid in self.definitions:
            if tzid not in self.built:
                try:
                    self.built[tzid] = bounded(self.definitions[tzid].to_tz(lookup_tzid=False), self.work)
                except ZoneWorkExhausted:
                    raise
                except Exception:
                    # A definition icalendar cannot build (a broken RRULE, a missing offset):
                    # the TZID is read as if the file had not defined it.
                    self.built[tzid] = None
            if self.built[tzid] is not None:
                return self.built[tzid]
        iana = iana_zone(tzid)
        return zoneinfo.ZoneInfo(iana) if iana else None

    def moment(self, prop, name: str, notes: list[str]) -> Moment:
        """A DTSTART, DTEND or RECURRENCE-ID as a date or a UTC datetime, with the zone it belongs to."""
        value = getattr(prop, "dt", None)
        if isinstance(value, datetime) and str(prop.params.get("VALUE", "")).upper() == "DATE":
            value = value.date()
        if not isinstance(value, date):
            raise Unreadable(f"{name} must be a date or a date-time.")
        if not isinstance(value, datetime):
            return Moment(value, self.zone, self.zone_named, True)
        tzid = str(prop.params.get("TZID", ""))
        if tzid:
            # The wall-clock time as written, placed with this file's zones, not icalendar's table.
            zone = self.tz(tzid)
            wall = value.replace(tzinfo=None)
            if zone is not None:
                iana = iana_zone(tzid)
                named = (iana, True) if iana else (self.zone, self.zone_named)
                try:
                    placed = wall.replace(tzinfo=zone).astimezone(UTC)
                except (OverflowError, ValueError) as error:
                    # A VTIMEZONE's rules are only run here (dateutil builds them lazily).
                    raise Unreadable(f"{name} cannot be placed in TZID {quoted(tzid)}: {error}.")
                return Moment(placed, *named, False)
            if not self.zone_named:
                # Read in the server's default zone, the times would be hours off with nothing to tell.
                raise Unreadable(
                    f"{name}'s TZID {quoted(tzid)} is neither a zone the file defines (VTIMEZONE) nor a known "
                    "zone; name the zone its times are in with the import's time_zone, or X-WR-TIMEZONE."
                )
            notes.append(
                f"{name}'s TZID {quoted(tzid)} is not defined in the file nor a known zone: read in {self.zone}."
            )
            value = wall
        if value.tzinfo is not None:
            return Moment(value.astimezone(UTC), self.zone, self.zone_named, False)
        # A floating time (RFC 5545 §3.3.5, form 1) is the same wall-clock time in every zone.
        local = value.replace(tzinfo=zoneinfo.ZoneInfo(self.zone))
        return Moment(local.astimezone(UTC), self.zone, self.zone_named, True)


def single(event: Component, name: str):
    """A property's value; the first one when a client wrote it twice."""
    value = event.get(name)
    return value[0] if isinstance(value, list) else value


def text(event: Component, name: str) -> str:
    value = single(event, name)
    return "" if value is None else str(value)


def midnight(day: date, zone: str) -> datetime:
    """A day's start in a zone, as the export reads an all-day slot (export.formats.ical.mapping.all_day_dates)."""
    return datetime.combine(day, datetime.min.time(), tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(UTC)


def read_event(
    event: Component, source: EventSource, zones: CalendarZones, keys: Counter, warnings: list[ImportWarning]
) -> ReadEvent:
    """One VEVENT as a slot record; Unreadable with every reason it cannot be one."""
    value_errors = [error for error in event.errors if error[0] not in IGNORED_ERRORS]
    read = read_errors(event, value_errors, source.parsed)
    errors = read.problems
    if "DTSTART" not in event:
        errors.append("The event has no DTSTART.")
    if "DTEND" in event and "DURATION" in event:
        errors.append("The event has both DTEND and DURATION (RFC 5545 §3.6.1 allows one).")
    if errors:
        raise Unreadable(*errors)
    # What was left out is taken out, so the series' expansion does not read it either.
    without_broken(event, {name for name, _ in value_errors if name})
    notes: list[str] = []
    start = zones.moment(single(event, "DTSTART"), "DTSTART", notes)
    all_day = not isinstance(start.value, datetime)
    end = (all_day_end if all_day else timed_end)(event, start, zones, notes)
    title = text(event, "SUMMARY")
    recurrence_id = None
    if "RECURRENCE-ID" in event:
        recurrence_id = comparable(zones.moment(single(event, "RECURRENCE-ID"), "RECURRENCE-ID", notes))
    uid = text(event, "UID").strip() or None
    where = f"line {source.line}"
    warnings.extend({"where": f"line {number}", "warning": note} for number, note in read.left_out)
    warnings.extend({"where": where, "warning": note} for note in notes)
    record = SlotRecord(
        where=where,
        uid=uid,
        # Without a UID, an event is known by its content (DTSTAMP aside: it is the export's moment).
        source_uid=source_uid_for(uid) if uid else content_key(
            "ical", [line for _, line in source.lines if not line.upper().startswith("DTSTAMP")], keys
        ),
        title=title,
        description=text(event, "DESCRIPTION"),
        location=text(event, "LOCATION"),
        start=midnight(start.value, start.zone) if all_day else start.value,
        end=end,
        all_day=all_day,
        visibility=VISIBILITY_BY_CLASS.get(text(event, "CLASS").strip().upper(), Slot.Visibility.PRIVATE),
        time_zone=start.zone,
        zone_named=start.zone_named,
        wall_clock=start.wall_clock,
    )
    return ReadEvent(record, recurrence_id, "RRULE" in event or "RDATE" in event)


def all_day_end(event: Component, start: Moment, zones: CalendarZones, notes: list[str]) -> datetime | None:
    """The exclusive end of an all-day event (RFC 5545 §3.6.1) as the start of that day; None for one open day."""
    if "DTEND" in event:
        last = zones.moment(single(event, "DTEND"), "DTEND", notes).value
        if isinstance(last, datetime):
            raise Unreadable("DTEND must be a date, like DTSTART.")
        if last < start.value:
            raise Unreadable("DTEND is before DTSTART.")
        # DTEND equal to DTSTART is not RFC 5545 (it must be later), but some calendars write it
        # for a one-day event (example.ics of the interop files): read it as that day.
        return midnight(max(last, start.value + timedelta(days=1)), start.zone)
    if "DURATION" in event:
        length = single(event, "DURATION").dt
        if length == OPEN_END_ALL_DAY:
            # What our export writes for an open all-day slot.
            return None
        if length < timedelta(days=1) or length % timedelta(days=1):
            raise Unreadable("An all-day event's DURATION must be whole days.")
        return midnight(start.value + length, start.zone)
    return None


def timed_end(event: Component, start: Moment, zones: CalendarZones, notes: list[str]) -> datetime | None:
    """The end of a timed event; None for an open end (no DTEND, or our DURATION:PT0S unmarked)."""
    if "DTEND" in event:
        end = zones.moment(single(event, "DTEND"), "DTEND", notes).value
        if not isinstance(end, datetime):
            raise Unreadable("DTEND must be a date-time, like DTSTART.")
        if end < start.value:
            raise Unreadable("DTEND is before DTSTART.")
        return end
    if "DURATION" in event:
        length = single(event, "DURATION").dt
        if length < OPEN_END:
            raise Unreadable("DURATION is negative.")
        if length == OPEN_END:
            # Our export writes a slot that ends as it starts so, and marks it.
            marked = str(single(event, "DURATION").params.get(ZERO_LENGTH_MARK, "")).upper() == "TRUE"
            return start.value if marked else None
        # Days are nominal (RFC 5545 §3.3.6): the same wall-clock time, across a change of offset.
        local = start.value.astimezone(zoneinfo.ZoneInfo(start.zone))
        days = timedelta(days=length.days)
        return (local + days).astimezone(UTC) + (length - days)
    return None


def comparable(moment: Moment) -> datetime:
    """A RECURRENCE-ID as an instant, to compare with a series' start."""
    if isinstance(moment.value, datetime):
        return moment.value
    return midnight(moment.value, moment.zone)
