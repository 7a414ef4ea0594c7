"""The JSON backup that loses nothing: a slot and its groups as a record, records streamed one by one.

docs/formats.md shows the document.
"""
import itertools
import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

from django.db.models import QuerySet

from export.formats.chunks import in_chunks
from slots.models import Slot, SlotGroup

FORMAT = "timeslot-export"
VERSION = 1
RECORD_FIELDS = (
    "id", "uuid", "title", "description", "location", "visibility", "start", "end", "all_day", "time_zone",
    "created_at", "updated_at",
)


def utc_iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with Z, microseconds kept when there are any."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def slot_record(slot, groups: list[dict]) -> dict:
    """The backup record of a slot (a row with the RECORD_FIELDS) and its groups."""
    return {
        "uuid": str(slot.uuid),
        "title": slot.title,
        "description": slot.description,
        "location": slot.location,
        "visibility": slot.visibility,
        "start": utc_iso(slot.start),
        "end": utc_iso(slot.end),
        "all_day": slot.all_day,
        "time_zone": slot.time_zone,
        "created_at": utc_iso(slot.created_at),
        "updated_at": utc_iso(slot.updated_at),
        "groups": groups,
    }


def memberships(slots: QuerySet[Slot]) -> Iterator[tuple]:
    """(slot id, group uuid, name, description) for every group of these slots, in the slots' order.

    One query for all of them, read alongside the slots, instead of one a slot.
    """
    through = SlotGroup.slots.through.objects.filter(slot__in=slots.values("pk"))
    return through.order_by("slot__start", "slot__uuid", "slotgroup__name", "slotgroup__uuid").values_list(
        "slot_id", "slotgroup__uuid", "slotgroup__name", "slotgroup__description"
    ).iterator()


def records(rows: Iterable, groups: Iterator[tuple]) -> Iterator[dict]:
    """Each row's record, its groups merged in from the membership stream (both in the same order)."""
    membership = next(groups, None)
    for row in rows:
        mine = []
        while membership is not None and membership[0] == row.id:
            mine.append({"uuid": str(membership[1]), "name": membership[2], "description": membership[3]})
            membership = next(groups, None)
        yield slot_record(row, mine)


def json_chunks(slot_records: Iterable[dict], *, exported_at: datetime) -> Iterator[bytes]:
    """The backup document, one record a line, in chunks."""
    head = {"format": FORMAT, "version": VERSION, "exported_at": utc_iso(exported_at)}
    # Records one a line: the first after a newline, every other after a comma.
    lines = (
        separator + json.dumps(record, ensure_ascii=False)
        for separator, record in zip(itertools.chain(["\n"], itertools.repeat(",\n")), slot_records)
    )
    pieces = itertools.chain([json.dumps(head, ensure_ascii=False)[:-1] + ', "slots": ['], lines, ["\n]}\n"])
    return in_chunks(piece.encode() for piece in pieces)
