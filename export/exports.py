"""What one export is: whose slots, which group, when; shared by the API and the command."""
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import slugify

from export import read_ahead
from export.formats.ical.mapping import BUSY_SUMMARY, DETAIL_BUSY, DETAIL_FULL
from slots.models import Slot, SlotGroup
from slots.selectors import slot_list

DEFAULT_NAME = "Timeslot"
FILENAME_STEM = "Timeslot-Export"


@dataclass(frozen=True)
class SlotExport:
    user: AbstractBaseUser
    slots: QuerySet[Slot]
    group: SlotGroup | None = None
    # One moment for the whole file: every DTSTAMP, the backup's exported_at (docs/calendar-format.md).
    stamp: datetime = field(default_factory=timezone.now)
    # How much of each slot a calendar tells (mapping.EVENT_BY_DETAIL); the other formats tell all.
    detail: str = DETAIL_FULL
    # The zone of every time in a file that names none (the CSV): an IANA name.
    time_zone: str = field(default_factory=lambda: settings.TIME_ZONE)
    # Called once a row, for a progress bar.
    on_row: Callable[[], None] | None = None

    @property
    def name(self) -> str:
        # A busy calendar tells only when: a group's name ("Job interviews") would say what.
        if self.detail == DETAIL_BUSY:
            return BUSY_SUMMARY
        return self.group.name if self.group else DEFAULT_NAME

    def rows(self, *columns, named: bool = True) -> Iterator:
        """The slots' columns (fields or expressions) as rows, named or plain tuples, fetched in chunks so memory
        stays flat; from a database server, the next chunk while the caller writes this one."""
        size = settings.EXPORT_CHUNK_SIZE
        rows = self.slots.values_list(*columns, named=named).iterator(chunk_size=size)
        if read_ahead.pays_off(self.slots.db):
            rows = read_ahead.read_ahead(rows, batch=size)
        return rows if self.on_row is None else self._counted(rows)

    def _counted(self, rows: Iterator) -> Iterator:
        for row in rows:
            self.on_row()
            yield row

    def chunks(self, renderer) -> Iterator[bytes]:
        """The export as the renderer streams it, its rows read in one transaction (written())."""
        return self.written(renderer.stream)

    def written(self, write: Callable[["SlotExport"], Iterator[bytes]]) -> Iterator[bytes]:
        """The export as write() writes it (a renderer's stream, or the calendar's parts), its rows read in
        one transaction.

        Outside a transaction, Django's PostgreSQL cursor is WITH HOLD and the
        server computes the whole result before the first row leaves (240-320 ms
        at 100,000 slots); inside one, the first row comes in about 35 ms. The
        transaction ends with the stream, or when the server closes a stream
        whose client went away. It is one of the database the rows come from
        (a replica's, timeslot/db_routers.py).
        """
        with transaction.atomic(using=self.slots.db):
            try:
                yield from write(self)
            except BaseException as error:
                # The failed stream's frames still hold the row iterator, whose server-side cursor
                # would be closed when they are collected, after the rollback, and complain then:
                # clear them so that it closes here, inside the transaction.
                traceback.clear_frames(error.__traceback__)
                raise

    def filename(self, extension: str) -> str:
        return f"{self.file_stem()}.{extension}"

    def file_stem(self) -> str:
        """The original system's name, or one made safe (ASCII letters, digits, dashes) from the group's name: the
        file's name without its extension, which the parts number."""
        slug = slugify(self.group.name)[:100].strip("-") if self.group else ""
        return f"{FILENAME_STEM}-{slug}" if slug else FILENAME_STEM


def export_for(
    *,
    user: AbstractBaseUser,
    group: SlotGroup | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    time_zone: str | None = None,
) -> SlotExport:
    """The export of the slots the user created, limited to the group and to the slots that overlap the
    window [since, until) if they are given; the times of a file that names no zone in time_zone (default
    TIME_ZONE, as the import reads them)."""
    slots = slot_list(user=user, group=group, since=since, until=until)
    return SlotExport(user=user, slots=slots, group=group, time_zone=time_zone or settings.TIME_ZONE)
