import dataclasses
import os
import sys
import tempfile

from django.core.management.base import BaseCommand, CommandError

from export.api.audit import ExportAudit
from export.exports import export_for
from export.management.arguments import group_not_found, group_uuid, iana_time_zone, user_named, window
from export.models import ExportLog
from export.renderers import EXPORT_FORMATS
from slots.models import SlotGroup
from slots.selectors import group_visible_to


class ProgressBar:
    """A bar on a terminal, redrawn every 1 % of the rows: drawing each row would cost more than writing it."""

    WIDTH = 30

    def __init__(self, out, *, total: int):
        self.out, self.total, self.done = out, total, 0
        self.step = max(1, total // 100)

    def tick(self) -> None:
        self.done += 1
        if self.done % self.step == 0:
            self.draw()

    def draw(self) -> None:
        filled = self.WIDTH * self.done // self.total if self.total else self.WIDTH
        self.out.write(f"\r[{'#' * filled:<{self.WIDTH}}] {self.done:,}/{self.total:,} slots", ending="")

    def finish(self) -> None:
        self.draw()
        self.out.write("")


class Command(BaseCommand):
    help = "Write the slots a user created, as POST /v1/export/<format> would send them, to stdout or a file."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="username of the slots' creator")
        parser.add_argument("--group", help="uuid of a slot group the user owns or belongs to")
        parser.add_argument("--from", dest="since", help="only slots overlapping the time from this ISO 8601 date or "
                            "date-time with an offset on (a date is its midnight UTC)")
        parser.add_argument("--until", help="only slots overlapping the time before this date or date-time")
        parser.add_argument("--format", choices=sorted(EXPORT_FORMATS), default="google")
        parser.add_argument("--output", help="file to write (replaced only once complete); default stdout")
        parser.add_argument(
            "--time-zone", help="IANA zone of every time in the outlook CSV, which names none (default: TIME_ZONE)"
        )

    def handle(self, *args, user, group, since, until, format, output, time_zone, **options):
        audit = ExportAudit(kind=ExportLog.Kind.COMMAND)
        owner = target = None
        exit_status = 1
        try:
            bounds = window(since, until)
            owner = user_named(user)
            target = self.group(owner, group) if group else None
            zone = iana_time_zone(time_zone) if time_zone else None
            self.export(audit, export_for(user=owner, group=target, time_zone=zone, **bounds), format, output)
            exit_status = 0
        finally:
            audit.record(user=owner, group=target, status=exit_status)

    def export(self, audit: ExportAudit, export, format: str, output: str | None) -> None:
        progress = None
        if self.stderr.isatty():
            progress = ProgressBar(self.stderr, total=export.slots.count())
            export = dataclasses.replace(export, on_row=progress.tick)
        chunks = audit.measured(audit.counted(export).chunks(EXPORT_FORMATS[format]()))
        if output:
            self.write_file(chunks, output)
        else:
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
        if progress:
            progress.finish()

    @staticmethod
    def group(owner, value: str) -> SlotGroup:
        try:
            return group_visible_to(user=owner, uuid=group_uuid(value))
        except SlotGroup.DoesNotExist:
            raise group_not_found(value, owner)

    @staticmethod
    def write_file(chunks, path: str) -> None:
        """Write beside the target and rename, so a failed export never leaves a partial file."""
        directory = os.path.dirname(os.path.abspath(path))
        try:
            with tempfile.NamedTemporaryFile("wb", dir=directory, delete=False, prefix=".export-") as part:
                try:
                    for chunk in chunks:
                        part.write(chunk)
                except BaseException:
                    os.unlink(part.name)
                    raise
            os.replace(part.name, path)
        except OSError as error:
            raise CommandError(f"Cannot write {path}: {error.strerror}.")
