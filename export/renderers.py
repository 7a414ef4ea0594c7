from collections.abc import Iterator

from rest_framework.renderers import BaseRenderer

from export.events import every_event, slot_events
from export.exports import SlotExport
from export.ical import calendar_chunks


class ICalendarRenderer(BaseRenderer):
    """Renders a SlotExport as an RFC 5545 calendar, streamed in chunks."""

    media_type = "text/calendar"
    format = "ical"
    charset = "utf-8"
    render_style = "binary"

    def stream(self, export: SlotExport) -> Iterator[bytes]:
        calendar = [
            ("VERSION", "2.0"),
            ("PRODID", "-//Timeslot//Timeslot Export//EN"),
            ("CALSCALE", "GREGORIAN"),
            ("METHOD", "PUBLISH"),
            ("X-WR-CALNAME", export.name),
        ]
        return calendar_chunks(calendar, slot_events(export.slots), every_event=every_event(stamp=export.stamp))

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return b"".join(self.stream(data))
