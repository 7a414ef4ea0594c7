"""The first reading of an iCalendar file: what the second (reader.py), which parses it an event at a time, must
know before it begins, gathered without parsing anything but BEGIN and END lines and a few names.

- how many events there are, so that a file of too many is refused before any is parsed;
- each UID's events: an event alone with its UID and that does not repeat becomes its slot at once, while the
  events of a series, its edited occurrences and copies of one event are kept until the file's end;
- each calendar's own part (its X-WR-TIMEZONE and X-WR-CALNAME, its VTIMEZONEs), which places the events'
  times wherever in the file the zones are written; and the zones' rules, refused before any is built when
  they could not be run at a bounded cost (zone_rules.py);
- the components beside the events that a slot cannot hold, counted (not_held.py);
- BEGIN and END lines that do not pair up.
"""
from dataclasses import dataclass, field

from icalendar.prop import vText

from export.formats.ical.lines import CalendarSource, boundary, property_name, property_value
from export.formats.ical.not_held import NotHeld
from export.formats.ical.zone_rules import MAX_ZONE_CHARACTERS, observance_problem
from export.imports.records import ImportProblem

# A calendar defines the zones its events use: a handful. icalendar builds each definition
# as it parses, at some cost, so a file that defines thousands is refused before parsing.
MAX_TIME_ZONES = 100
# A calendar's own properties that its reading uses; the others are not kept.
CALENDAR_PROPERTIES = ("X-WR-TIMEZONE", "X-WR-CALNAME")
# An event's properties that make it part of a series.
SERIES_PROPERTIES = frozenset({"RRULE", "RDATE", "RECURRENCE-ID"})
CUT_SHORT = "The calendar is cut short, or its BEGIN and END lines do not pair up."


@dataclass
class Shell:
    """A calendar without its events: the lines of its own part, each with its number."""

    lines: list[tuple[int, str]] = field(default_factory=list)
    name: str | None = None  # X-WR-CALNAME's raw value


@dataclass
class Survey:
    events: int = 0
    # What is known of each UID's events, as one int for a small index: how many, times two, plus one when
    # one of them repeats or edits an occurrence.
    uids: dict[str, int] = field(default_factory=dict)
    shells: list[Shell] = field(default_factory=list)
    zones: int = 0
    problems: list[ImportProblem] = field(default_factory=list)
    # Where the BEGIN and END lines first fail to pair up, if they do.
    unpaired: str | None = None

    def alone(self, uid: str | None) -> bool:
        """Whether the event of this UID is the file's only one of it, and neither repeats nor edits one."""
        return uid is not None and self.uids.get(uid) == 2

    def count(self, uid: str) -> int:
        """How many events of this UID the file holds; 0 for one the survey did not see."""
        return self.uids.get(uid, 0) >> 1


def surveyed(source: CalendarSource, not_held: NotHeld, max_events: int) -> Survey:
    """The file's survey; counting stops at max_events + 1 events (the file is then refused whole)."""
    survey = Survey()
    begun: list[tuple[int, str]] = []
    shell: Shell | None = None
    zone: ZoneSource | None = None
    # Within an event: how deep in it, its UID and whether it repeats or edits an occurrence.
    event_depth, uid, series = 0, None, False
    for number, line in source.logical_lines("Checking"):
        kind = boundary(line)
        if kind is None:
            if event_depth == 1:
                name = property_name(line)
                if name == "UID" and uid is None:
                    uid = uid_of(line)
                elif name in SERIES_PROPERTIES:
                    series = True
            elif zone is not None:
                survey.problems.extend(zone.read(number, line, kind))
                keep_zone_line(survey, shell, zone, number, line)
            elif len(begun) == 1:
                shell_line(shell, number, line)
            continue
        verb, name = kind
        if verb == "BEGIN":
            begun.append((number, name))
            not_held.component(name)
            if len(begun) == 1:
                # Each component of the file's own level is a calendar, with its own zones.
                shell = Shell()
                survey.shells.append(shell)
                shell.lines.append((number, line))
            if event_depth:
                event_depth += 1
            elif name == "VEVENT":
                survey.events += 1
                if survey.events > max_events:
                    return survey
                event_depth, uid, series = 1, None, False
            elif name == "VTIMEZONE" and len(begun) > 1:
                survey.zones += 1
                zone = ZoneSource(number, len(begun))
        elif not begun:
            survey.unpaired = f"line {number}"
            return survey
        else:
            # An END closes the component begun last whatever it names, as icalendar reads it
            # ("END:VTOOD" closes a VTODO).
            begun.pop()
            if event_depth:
                event_depth -= 1
                if event_depth == 0 and uid:
                    # An event without a UID is known by its content: alone whatever it is.
                    survey.uids[uid] = (survey.uids.get(uid, 0) + 2) | series
        if zone is not None:
            survey.problems.extend(zone.read(number, line, kind))
            keep_zone_line(survey, shell, zone, number, line)
            if len(begun) < zone.depth:
                zone = None
        elif verb == "END" and not begun:
            shell.lines.append((number, line))
    if begun:
        survey.unpaired = f"line {begun[-1][0]}"
    return survey


def keep_zone_line(survey: Survey, shell: Shell, zone: "ZoneSource", number: int, line: str) -> None:
    """A line of a zone, kept for the calendar's reading unless the file is refused for its zones anyway."""
    if survey.zones <= MAX_TIME_ZONES and zone.characters <= MAX_ZONE_CHARACTERS:
        shell.lines.append((number, line))


def shell_line(shell: Shell, number: int, line: str) -> None:
    """A line of the calendar's own properties: kept if the reading uses it, the first of its name."""
    name = property_name(line)
    if name in CALENDAR_PROPERTIES and not any(property_name(kept) == name for _, kept in shell.lines[1:]):
        shell.lines.append((number, line))
        if name == "X-WR-CALNAME":
            shell.name = property_value(line)


def uid_of(line: str) -> str:
    """A UID line's value as icalendar reads it (a text, unescaped), stripped as the reader strips it."""
    value = property_value(line)
    return "" if value is None else str(vText.from_ical(value)).strip()


@dataclass
class ZoneSource:
    """A VTIMEZONE as the survey reads it: its size, and its observances' rules."""

    line: int
    depth: int  # how deep in the file it begins: it ends when an END takes the file above it
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
