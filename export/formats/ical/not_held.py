"""What a calendar holds that a slot cannot: to-dos and journal entries beside the events, and in events their
attendees, alarms, categories, attachments, links and organizer. The import reports them, one warning of each
kind with its count, rather than dropping them without a word; and it reads the components it does not keep
tolerantly, so that a value of theirs it cannot read refuses nothing.
"""
from icalendar import Calendar
from icalendar.cal import Component
from icalendar.cal.alarm import Alarm
from icalendar.cal.availability import Availability
from icalendar.cal.available import Available
from icalendar.cal.component_factory import ComponentFactory
from icalendar.cal.free_busy import FreeBusy
from icalendar.cal.journal import Journal
from icalendar.cal.todo import Todo
from icalendar.parser.property import split_on_unescaped_comma

from export.imports.records import ImportWarning

# Components beside the events: (singular, plural).
COMPONENTS = {
    "VTODO": ("to-do", "to-dos"),
    "VJOURNAL": ("journal entry", "journal entries"),
    "VFREEBUSY": ("free/busy time", "free/busy times"),
    "VAVAILABILITY": ("availability", "availabilities"),
}
# An event's properties that no slot field holds: (singular, plural, what the slot lacks).
PROPERTIES = {
    "ATTENDEE": ("attendee", "attendees", "attendees"),
    "ORGANIZER": ("organizer", "organizers", "organizer"),
    "CATEGORIES": ("category", "categories", "categories"),
    "ATTACH": ("attachment", "attachments", "attachments"),
    "URL": ("link", "links", "link"),
}
ALARM = ("alarm", "alarms", "alarms")


def tolerant(component: type[Component]) -> type[Component]:
    """The component, read as icalendar reads a VEVENT: a value it cannot read is kept as broken, not raised."""
    return type(component.__name__, (component,), {"ignore_exceptions": True})


# The components no slot keeps, read tolerantly.
TOLERANT = tuple(tolerant(component) for component in (Alarm, Todo, Journal, FreeBusy, Availability, Available))


class ReadCalendar(Calendar):
    """A calendar whose components that no slot keeps are read tolerantly.

    icalendar reads only VEVENTs so: one alarm's TRIGGER, one to-do's DUE that it cannot read would
    refuse the whole file. VTIMEZONEs stay strict: they place the events' times.
    """

    @classmethod
    def _get_component_factory(cls) -> ComponentFactory:
        # A factory for each file: icalendar's own makes a class for every component name it meets and keeps
        # it for the life of the process, so made-up names (BEGIN:X-1, BEGIN:X-2...) would grow memory without end.
        factory = ComponentFactory()
        for component in TOLERANT:
            factory.add_component_class(component)
        return factory


class NotHeld:
    """What a file holds that its slots do not, counted as the file is read: one warning of each kind."""

    def __init__(self):
        self.components = dict.fromkeys(COMPONENTS, 0)
        # Of each property (and VALARM): how many, in how many events.
        self.found = dict.fromkeys([*PROPERTIES, "VALARM"], 0)
        self.events = dict.fromkeys(self.found, 0)

    def component(self, name: str) -> None:
        """A BEGIN line of the file: a to-do, a journal entry... is counted."""
        if name in self.components:
            self.components[name] += 1

    def event(self, counts: dict[str, int]) -> None:
        """One event's properties and alarms that a slot does not hold, by name (event_counts())."""
        for name, count in counts.items():
            self.found[name] += count
            self.events[name] += 1

    def warnings(self) -> list[ImportWarning]:
        warnings: list[ImportWarning] = []
        for name, count in self.components.items():
            if count:
                warnings.append({"where": "file", "warning": f"{counted(count, *COMPONENTS[name])} ({name}) "
                                 f"{verb(count)} not imported: a slot holds events only."})
        for name, count in self.found.items():
            if count:
                singular, plural, lacks = ALARM if name == "VALARM" else PROPERTIES[name]
                warnings.append({"where": "file", "warning": f"{counted(count, singular, plural)} ({name}) of "
                                 f"{counted(self.events[name], 'event', 'events')} {verb(count)} not imported: a "
                                 f"slot has no {lacks}."})
        return warnings


def unheld_count(name: str, value: str | None) -> int:
    """How many things a slot does not hold one of an event's lines of this property gives: one CATEGORIES
    line lists several categories, split at the commas its raw value does not escape."""
    if name == "CATEGORIES" and value:
        return len(split_on_unescaped_comma(value))
    return 1


def counted(count: int, singular: str, plural: str) -> str:
    return f"{count:,} {singular if count == 1 else plural}"


def verb(count: int) -> str:
    return "was" if count == 1 else "were"
