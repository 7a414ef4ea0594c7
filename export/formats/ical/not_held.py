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


def not_held(calendars: list[Component]) -> list[ImportWarning]:
    """One warning for each kind of thing the calendars hold that their slots do not, with how many."""
    components = dict.fromkeys(COMPONENTS, 0)
    found = dict.fromkeys([*PROPERTIES, "VALARM"], 0)
    events = dict.fromkeys(found, 0)
    for calendar in calendars:
        for component in calendar.walk():
            if component.name in components:
                components[component.name] += 1
            elif component.name == "VEVENT":
                for name, count in held_in(component).items():
                    found[name] += count
                    events[name] += 1
    warnings: list[ImportWarning] = []
    for name, count in components.items():
        if count:
            warnings.append({"where": "file", "warning": f"{counted(count, *COMPONENTS[name])} ({name}) "
                             f"{verb(count)} not imported: a slot holds events only."})
    for name, count in found.items():
        if count:
            singular, plural, lacks = ALARM if name == "VALARM" else PROPERTIES[name]
            warnings.append({"where": "file", "warning": f"{counted(count, singular, plural)} ({name}) of "
                             f"{counted(events[name], 'event', 'events')} {verb(count)} not imported: a slot has "
                             f"no {lacks}."})
    return warnings


def held_in(event: Component) -> dict[str, int]:
    """How many of each thing a slot does not hold the event has."""
    counts = {}
    for name in PROPERTIES:
        values = event.get(name)
        if values is None:
            continue
        values = values if isinstance(values, list) else [values]
        # One CATEGORIES line lists several categories.
        counts[name] = sum(len(getattr(value, "cats", None) or [value]) for value in values)
    alarms = sum(1 for component in event.subcomponents if component.name == "VALARM")
    if alarms:
        counts["VALARM"] = alarms
    return counts


def counted(count: int, singular: str, plural: str) -> str:
    return f"{count:,} {singular if count == 1 else plural}"


def verb(count: int) -> str:
    return "was" if count == 1 else "were"
