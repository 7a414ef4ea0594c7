"""iCalendar files as slot records: Google, Outlook/Exchange, Apple and Thunderbird exports, and ours.

docs/calendar-format.md says how a slot becomes an event; this reads it back, and what other
clients write (TZID and VTIMEZONE, Windows zone names, X-WR-TIMEZONE, floating times, dates).
"""
import re
import zoneinfo
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import NamedTuple
from warnings import filterwarnings

from icalendar.cal import Component
from icalendar.error import GloballyUniqueTZIDGuessed
from icalendar.parser.content_line import Contentline
from icalendar.parser.ical.component import ComponentIcalParser
from icalendar.timezone import tzp

from export.formats.ical.mapping import OPEN_END, OPEN_END_ALL_DAY, ZERO_LENGTH_MARK
from export.formats.ical.not_held import ReadCalendar, not_held
from export.formats.ical.property_errors import read_errors, without_broken
from export.formats.ical.series import SeriesEvent, expanded, recurrence_window
from export.formats.ical.zone_rules import (
    MAX_ZONE_CHARACTERS,
    ZoneWork,
    ZoneWorkExhausted,
    bounded,
    observance_problem,
)
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

# RFC 5545 §3.1: lines end in CRLF (LF from some tools); one that starts with a space or a
# tab continues the line before.
LINE_BREAK = re.compile(r"\r?\n")
FOLD_STARTS = (" ", "\t")
# A calendar defines the zones its events use: a handful. icalendar builds each definition
# as it parses, at some cost, so a file that defines thousands is refused before parsing.
MAX_TIME_ZONES = 100
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


@dataclass
class EventSource:
    """Where a VEVENT begins in the file, and its unfolded lines."""

    line: int
    lines: list[str] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)  # the line each of the lines begins on


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


def read_ical(text: str, context: ReadContext, work: ZoneWork | None = None) -> Reading:
    """The events of an iCalendar file as slot records; ImportRejected with every problem found.

    work counts the steps the file's zone rules take (a new ZoneWork, unless one is given).
    """
    work = ZoneWork() if work is None else work
    sources, zone_count, zone_problems = scan(text)
    if len(sources) > context.max_records:
        raise context.too_many()
    if zone_count > MAX_TIME_ZONES:
        raise ImportRejected([{
            "where": "file",
            "problem": f"The file defines {zone_count:,} time zones (VTIMEZONE); an import takes at most "
            f"{MAX_TIME_ZONES}.",
        }])
    if zone_problems:
        raise ImportRejected(zone_problems)
    warnings: list[ImportWarning] = []
    problems: list[ImportProblem] = []
    read: list[SeriesEvent] = []
    keys: Counter = Counter()
    pending = iter(sources)
    calendars = parsed(text)
    for component in calendars:
        zones = CalendarZones(component, context, warnings, work)
        for event in component.walk("VEVENT"):
            source = next(pending, None)
            if source is None:
                raise cut_short(text)
            try:
                record, recurrence_id, repeats = read_event(event, source, zones, keys, warnings)
                read.append(SeriesEvent(record, recurrence_id, event, zones, repeats))
            except Unreadable as unreadable:
                problems.extend({"where": f"line {source.line}", "problem": reason} for reason in unreadable.args)
            except OverflowError:
                problems.append({"where": f"line {source.line}", "problem": OUT_OF_RANGE})
            except ZoneWorkExhausted:
                raise ImportRejected([*problems, {
                    "where": f"line {source.line}",
                    "problem": f"Placing this event's times in the file's time zones (VTIMEZONE) takes more "
                    f"than the {work.steps:,} steps of their rules an import may take.",
                }])
    if next(pending, None) is not None:
        raise cut_short(text)
    if problems:
        raise ImportRejected(problems)
    warnings.extend(not_held(calendars))
    window = context.recurrence or recurrence_window()
    try:
        expansion = expanded(read, window, warnings)
    except OverflowError:
        raise ImportRejected([{"where": "file", "problem": OUT_OF_RANGE}])
    return Reading(expansion.records, warnings, tuple(expansion.series), frozenset(expansion.expanded))


def parsed(text: str) -> list[Component]:
    try:
        return ReadCalendar.from_ical(text, multiple=True)
    except Exception as error:
        # Whatever icalendar trips on in a malformed file (ValueError mostly, and also
        # AttributeError or TypeError when END lines close the wrong component) is the file's fault.
        raise ImportRejected([{"where": where_unreadable(text), "problem": f"Not a readable iCalendar file: {error}"}])
    finally:
        # icalendar keeps every VTIMEZONE it parses in one table for the whole process, by TZID,
        # first definition wins, never forgotten: one user's file would bend the times of the next
        # file that uses the same name, and made-up names would grow memory without end. Times
        # are placed with each file's own definitions (CalendarZones); the table starts empty again.
        tzp.use(tzp.name)


def cut_short(text: str) -> ImportRejected:
    return ImportRejected([{
        "where": where_unpaired(text) or "file",
        "problem": "The calendar is cut short, or its BEGIN and END lines do not pair up.",
    }])


class LineCountingParser(ComponentIcalParser):
    """icalendar's own parser, fed one content line at a time, that remembers how far it got."""

    def __init__(self, lines: list[tuple[int, str]]):
        super().__init__([Contentline(line) for _, line in lines], ReadCalendar._get_component_factory(),
                         ReadCalendar.types_factory)
        self.numbers = [number for number, _ in lines]
        self.read = 0

    def initialize_parsing(self):
        super().initialize_parsing()
        self._content_lines_iterator = self.counted(self._content_lines_iterator)

    def counted(self, lines):
        for self.read, line in enumerate(lines, start=1):
            yield line


def where_unreadable(text: str) -> str:
    """The line icalendar stopped at, for a file it refused: its own parser again, counting lines, else
    the first BEGIN or END that does not pair up. Only run on a refused file."""
    parser = LineCountingParser(list(logical_lines(text)))
    try:
        parser.parse()
    except Exception:
        if parser.read:
            return f"line {parser.numbers[parser.read - 1]}"
    finally:
        tzp.use(tzp.name)
    return where_unpaired(text) or "file"


def where_unpaired(text: str) -> str | None:
    """The line of the first END that closes a component never begun, or of a BEGIN never ended."""
    begun: list[tuple[int, str]] = []
    for number, line in logical_lines(text):
        kind = boundary(line)
        if kind is None:
            continue
        verb, name = kind
        if verb == "BEGIN":
            begun.append((number, name))
        elif not begun or begun.pop()[1] != name:
            return f"line {number}"
    return f"line {begun[-1][0]}" if begun else None


def logical_lines(text: str):
    """(number of the line it begins on, unfolded content line), for every content line."""
    return unfolded(LINE_BREAK.split(text))


def unfolded(lines: Iterable[str]):
    """logical_lines() of the file's physical lines."""
    # A line's pieces are joined once it is complete: adding each fold to the line built so far
    # would copy that line again for every fold, a time that grows with the square of its length.
    start, pieces = 0, []
    for number, line in enumerate(lines, start=1):
        if line.startswith(FOLD_STARTS) and pieces:
            pieces.append(line[1:])
        elif line:
            if pieces:
                yield start, "".join(pieces)
            start, pieces = number, [line]
    if pieces:
        yield start, "".join(pieces)


def boundary(line: str) -> tuple[str, str] | None:
    """("BEGIN", "VEVENT") and the like, for a BEGIN or END line, read as icalendar reads it."""
    if not line[:5].upper().startswith(("BEGIN", "END")):
        return None
    name, _, value = line.partition(":")
    if name.upper() in ("BEGIN", "END"):
        # The plain form, which is nearly every one, without icalendar's slower full parse.
        return name.upper(), value.upper()
    try:
        name, _, value = Contentline(line).parts()
    except ValueError:
        return None
    return name.upper(), value.upper()


def scan(text: str) -> tuple[list[EventSource], int, list[ImportProblem]]:
    """Every VEVENT's first line and content, the number of VTIMEZONEs, and what their rules break.

    icalendar gives no line numbers, so problems are placed by this scan, which finds
    the events in the same order icalendar's walk does. It also refuses, before icalendar
    builds any zone, the zones whose rules could not be run at a bounded cost (zone_rules).
    """
    sources: list[EventSource] = []
    problems: list[ImportProblem] = []
    zones = 0
    current: EventSource | None = None
    zone: ZoneSource | None = None
    for number, line in logical_lines(text):
        kind = boundary(line)
        if kind == ("BEGIN", "VEVENT"):
            current = EventSource(number)
            sources.append(current)
        elif kind == ("BEGIN", "VTIMEZONE"):
            zones += 1
            zone = ZoneSource(number)
        if current is not None:
            current.lines.append(line)
            current.numbers.append(number)
        if zone is not None:
            problems.extend(zone.read(number, line, kind))
            if kind == ("END", "VTIMEZONE"):
                zone = None
        if kind == ("END", "VEVENT"):
            current = None
    return sources, zones, problems


@dataclass
class ZoneSource:
    """A VTIMEZONE as the scan reads it: its size, and its observances' rules."""

    line: int
    characters: int = 0
    observance: bool = False

    def read(self, number: int, line: str, kind: tuple[str, str] | None) -> list[ImportProblem]:
        """The problems of one of the zone's lines."""
        problems: list[ImportProblem] = []
        before, self.characters = self.characters, self.characters + len(line)
        if before <= MAX_ZONE_CHARACTERS < self.characters:
            problems.append({
                "where": f"line {self.line}",
                "problem": f"A time zone (VTIMEZONE) takes at most {MAX_ZONE_CHARACTERS:,} characters; "
                "this one is longer.",
            })
        if kind is not None:
            self.observance = kind[0] == "BEGIN" and kind[1] in ("STANDARD", "DAYLIGHT")
        elif self.observance:
            name, _, value = line.partition(":")
            problem = observance_problem(name.partition(";")[0].upper(), value)
            if problem:
                problems.append({"where": f"line {number}", "problem": problem})
        return problems


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
    read = read_errors(event, value_errors, list(zip(source.numbers, source.lines)))
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
            "ical", [line for line in source.lines if not line.upper().startswith("DTSTAMP")], keys
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
