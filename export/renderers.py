"""One renderer a format: each streams a SlotExport through its format's mapping and writer."""
import uuid
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from zoneinfo import ZoneInfo

from django.conf import settings
from rest_framework.renderers import BaseRenderer

from export.exports import SlotExport
from export.formats.backup import writer as backup
from export.formats.ical.mapping import EVENT_BY_DETAIL, EVENT_COLUMNS, VEVENT, calendar_names, every_event, slot_event
from export.formats.ical.writer import CALENDAR_TAIL, ComponentWriter, Property, calendar_chunks, calendar_head
from export.formats.outlook import writer as outlook
from export.formats.parts import calendar_parts, part_names, zipped
from slots.models import Slot

# How often a subscribed calendar app should fetch the feed again.
FEED_REFRESH = timedelta(hours=1)


class StreamingRenderer(BaseRenderer):
    """A renderer whose output is a stream of chunks; render() joins them for callers that want bytes."""

    charset = "utf-8"
    render_style = "binary"

    def stream(self, export: SlotExport) -> Iterator[bytes]:
        raise NotImplementedError

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return b"".join(self.stream(data))


class ICalendarRenderer(StreamingRenderer):
    """Renders a SlotExport as an RFC 5545 calendar."""

    media_type = "text/calendar"
    format = "ical"
    # Calendar properties beyond those every calendar of ours carries.
    extra_calendar_properties: tuple[Property, ...] = ()

    def stream(self, export: SlotExport) -> Iterator[bytes]:
        return calendar_chunks(*self.calendar(export))

    def calendar(self, export: SlotExport) -> tuple[list[Property], Iterator[bytes]]:
        """The calendar's own properties, and its events (one VEVENT's bytes each, read as they are asked for)."""
        calendar = [
            ("VERSION", "2.0"),
            ("PRODID", "-//Timeslot//Timeslot Export//EN"),
            ("CALSCALE", "GREGORIAN"),
            ("METHOD", "PUBLISH"),
            *calendar_names(export.name),
            *self.extra_calendar_properties,
        ]
        write_event = self.event_writer(export)
        events = map(write_event, map(EVENT_BY_DETAIL[export.detail], export.rows(*EVENT_COLUMNS, named=False)))
        return calendar, events

    def event_writer(self, export: SlotExport) -> ComponentWriter:
        return ComponentWriter("VEVENT", VEVENT, shared=every_event(stamp=export.stamp))

    def smallest_event_octets(self, export: SlotExport) -> int:
        """The fewest octets any event of this export takes: a timed slot with no end, no title, no text,
        written as every event is. With a count of slots, the least the calendar can weigh."""
        # The uuid and the times as the database writes them (export/formats/sql_text.py): fixed lengths.
        uid, time = str(uuid.UUID(int=0)), "20000101T000000Z"
        row = ("", "", "", False, "UTC", Slot.Visibility.PUBLIC, uid, time, None, time, time)
        return len(self.event_writer(export)(slot_event(row)))


class ICalendarPartsRenderer(ICalendarRenderer):
    """The same calendar as parts that Google Calendar imports whole (EXPORT_PART_MAX_BYTES each), in a ZIP."""

    media_type = "application/zip"
    format = "zip"
    charset = None

    def stream(self, export: SlotExport) -> Iterator[bytes]:
        return zipped(self.named_parts(export))

    def parts(self, export: SlotExport) -> Iterator[bytes]:
        """The parts, each a complete calendar."""
        calendar, events = self.calendar(export)
        return calendar_parts(calendar_head(calendar), events, CALENDAR_TAIL, budget=settings.EXPORT_PART_MAX_BYTES)

    def named_parts(self, export: SlotExport) -> Iterator[tuple[str, bytes]]:
        """The parts with their file names: the ZIP's files, and export_slots --parts's."""
        return zip(part_names(export.file_stem(), "ics"), self.parts(export))


class ICalendarFeedRenderer(ICalendarRenderer):
    """The same calendar for a subscription, with how often to fetch it again."""

    # RFC 7986 §5.7, and Outlook's older name for the same hint.
    extra_calendar_properties = (("REFRESH-INTERVAL", FEED_REFRESH), ("X-PUBLISHED-TTL", FEED_REFRESH))


class OutlookCSVRenderer(StreamingRenderer):
    """Renders a SlotExport as the CSV that Outlook's and Google Calendar's imports read."""

    media_type = "text/csv"
    format = "csv"

    def stream(self, export: SlotExport) -> Iterator[bytes]:
        row = partial(outlook.slot_row, zone=ZoneInfo(export.time_zone))
        return outlook.csv_chunks(map(row, export.rows(*outlook.ROW_FIELDS)))


class TimeslotJSONRenderer(StreamingRenderer):
    """Renders a SlotExport as the JSON backup that loses nothing."""

    media_type = "application/json"
    format = "json"

    def stream(self, export: SlotExport) -> Iterator[bytes]:
        records = backup.records(export.rows(*backup.RECORD_FIELDS), backup.memberships(export.slots))
        return backup.json_chunks(records, exported_at=export.stamp)


# The export endpoints' formats by name: /v1/export/<name> and export_slots --format <name>
# (google and ical are the original system's two names for the same calendar).
EXPORT_FORMATS = {
    "google": ICalendarRenderer,
    "ical": ICalendarRenderer,
    "outlook": OutlookCSVRenderer,
    "timeslot": TimeslotJSONRenderer,
}
# The formats that also come as a ZIP of parts (Accept: application/zip, or parts=true): the calendar's.
IN_PARTS = frozenset({"google", "ical"})
