"""An event's values that icalendar could not read: those a slot is made of refuse the event, the others
are left out with a warning on their line.

icalendar 7 reads a VEVENT tolerantly: a value it cannot read is kept as a vBroken and listed in the
event's `errors` as (property name, message), in the file's order; a line it cannot even split into a
name, parameters and a value is listed with no name, and left out.
"""
import re
from collections import defaultdict, deque
from typing import NamedTuple

from icalendar.cal import Component
from icalendar.parser.content_line import Contentline
from icalendar.prop import vBroken

# What a slot is made of (and RECURRENCE-ID, which says which slot an event changes): an event
# whose value of one of these cannot be read cannot be a slot, or would be another slot than the file's.
NEEDED = frozenset({"DTSTART", "DTEND", "DURATION", "SUMMARY", "DESCRIPTION", "LOCATION", "CLASS", "UID",
                    "RECURRENCE-ID"})
# The dates a series has or skips: needed when they hold one. An empty one (Google's
# "EXDATE;VALUE=DATE:") says nothing, and is only left out.
SERIES_DATES = frozenset({"RDATE", "EXDATE"})
# What a note repeats of icalendar's message, which may quote a whole hostile value.
MESSAGE_CHARACTERS = 200
# Warnings of one event's values, the rest counted in one more: a file of 10,000 events keeps its warnings few
# enough to hold, whatever each event holds (records.capped() then cuts the response's list).
MAX_LEFT_OUT = 5
NAME = re.compile(r"[A-Za-z0-9-]*")


class ReadErrors(NamedTuple):
    problems: list[str]  # why the event cannot be a slot
    left_out: list[tuple[int, str]]  # (the line, what was left out of it, and why)


def read_errors(event: Component, errors: list[tuple[str | None, str]], lines: list[tuple[int, str]]) -> ReadErrors:
    """The event's errors, as problems (a value the slot needs) and warnings placed on their lines.

    lines are the event's (number, content line) from its BEGIN:VEVENT on, its alarms' too; the errors are
    matched to its own in order, each line looked at once, so the work is the event's length whatever the errors.
    """
    problems: list[str] = []
    left_out: list[tuple[int, str]] = []
    if not errors:
        return ReadErrors(problems, left_out)
    event_line = lines[0][0] if lines else 0
    lines = own_lines(lines)
    by_name = defaultdict(deque)
    for number, line in lines:
        by_name[name_of(line)].append((number, line))
    # Only an event with a line that does not split pays for splitting them all again.
    unsplittable = deque((number, line) for number, line in lines if not splits(line)) if any(
        name is None for name, _ in errors) else deque()
    broken = defaultdict(deque)
    for name in {name for name, _ in errors if name}:
        broken[name].extend(str(value) for value in values(event.get(name)) if isinstance(value, vBroken))
    for name, message in errors:
        if name is None:
            number, line = unsplittable.popleft() if unsplittable else (event_line, "")
            name, raw = name_of(line), line.partition(":")[2]
            reason = f"A line could not be read: {cut(message)}"
        else:
            raw = broken[name].popleft() if broken[name] else None
            number = line_of(by_name[name.upper()], raw, event_line)
            reason = f"{name} could not be read: {cut(message)}"
        name = name.upper()
        if name in NEEDED or (name in SERIES_DATES and (raw is None or raw.strip())):
            problems.append(reason)
        else:
            left_out.append((number, f"{reason}. It was left out: a slot does not use it."))
    if len(left_out) > MAX_LEFT_OUT:
        rest = len(left_out) - MAX_LEFT_OUT
        left_out[MAX_LEFT_OUT:] = [(event_line, f"... and {rest:,} more of the event's values could not be read; "
                                    "they were left out: a slot does not use them.")]
    return ReadErrors(problems, left_out)


def own_lines(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The event's own lines: not those of the components inside it (VALARM), which have their own errors."""
    own, depth = [], 0
    for number, line in lines:
        head = line[:6].upper()
        if head.startswith("BEGIN:"):
            depth += 1
        elif head.startswith("END:"):
            depth -= 1
        elif depth == 1:
            own.append((number, line))
    return own


def name_of(line: str) -> str:
    return NAME.match(line).group().upper()


def splits(line: str) -> bool:
    try:
        Contentline(line).parts()
    except ValueError:
        return False
    return True


def line_of(candidates: deque, raw: str | None, default: int) -> int:
    """The number of the next of a property's lines that holds this broken value; those before it are passed."""
    while candidates:
        number, line = candidates.popleft()
        try:
            value = Contentline(line).parts()[2]
        except ValueError:
            continue
        if raw is None or value == raw:
            return number
    return default


def values(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def cut(message: str) -> str:
    return message if len(message) <= MESSAGE_CHARACTERS else message[: MESSAGE_CHARACTERS - 1] + "…"


def without_broken(event: Component, names: set[str]) -> None:
    """The values of these properties that could not be read, taken out of the event: left out, they must not
    reach what reads the event after the slot's own fields (the expansion of a series reads EXDATE)."""
    for name in names:
        kept = [value for value in values(event.get(name)) if not isinstance(value, vBroken)]
        if not kept:
            event.pop(name, None)
        else:
            event[name] = kept if len(kept) > 1 else kept[0]
