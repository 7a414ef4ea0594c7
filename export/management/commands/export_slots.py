import dataclasses
import os
import re
import sys
import tempfile

from django.core.management.base import BaseCommand, CommandError

from export.api.audit import ExportAudit
from export.exports import export_for
from export.management.arguments import group_not_found, group_uuid, iana_time_zone, user_named, window
from export.management.progress import ProgressBar
from export.models import ExportLog
from export.renderers import EXPORT_FORMATS, IN_PARTS, ICalendarPartsRenderer
from slots.models import SlotGroup
from slots.selectors import group_visible_to


class Command(BaseCommand):
    help = "Write the slots a user created, as POST /v1/export/<format> would send them, to stdout or a file."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="username of the slots' creator")
        parser.add_argument("--group", help="uuid of a slot group the user owns or belongs to")
        parser.add_argument("--from", dest="since", help="only slots overlapping the time from this ISO 8601 date or "
                            "date-time with an offset on (a date is its midnight UTC)")
        parser.add_argument("--until", help="only slots overlapping the time before this date or date-time")
        parser.add_argument("--format", choices=sorted(EXPORT_FORMATS), default="google")
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--output", help="file to write (replaced only once complete); default stdout")
        where.add_argument(
            "--parts", metavar="DIR",
            help="folder to write the calendar (google, ical) into as the parts that Google Calendar imports, "
            "the files of the API's ZIP; written once complete, replacing the parts of an earlier export",
        )
        parser.add_argument(
            "--time-zone", help="IANA zone of every time in the outlook CSV, which names none (default: TIME_ZONE)"
        )

    def handle(self, *args, user, group, since, until, format, output, parts, time_zone, **options):
        if parts and format not in IN_PARTS:
            raise CommandError(f"--parts writes a calendar: --format {' or '.join(sorted(IN_PARTS))}.")
        audit = ExportAudit(kind=ExportLog.Kind.COMMAND)
        owner = target = None
        exit_status = 1
        try:
            bounds = window(since, until)
            owner = user_named(user)
            target = self.group(owner, group) if group else None
            zone = iana_time_zone(time_zone) if time_zone else None
            self.export(audit, export_for(user=owner, group=target, time_zone=zone, **bounds), format, output, parts)
            exit_status = 0
        finally:
            audit.record(user=owner, group=target, status=exit_status)

    def export(self, audit: ExportAudit, export, format: str, output: str | None, parts: str | None) -> None:
        progress = None
        if self.stderr.isatty():
            progress = ProgressBar(self.stderr)
            progress.stage("", export.slots.count(), "slots")
            export = dataclasses.replace(export, on_row=progress.tick)
        if parts:
            named_parts = audit.counted(export).written(ICalendarPartsRenderer().named_parts)
            self.write_parts(named_parts, parts, export.file_stem(), audit)
            if progress:
                progress.finish()
            return
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

    @staticmethod
    def write_parts(named_parts, folder: str, stem: str, audit: ExportAudit) -> None:
        """Write the parts beside their place, then move them in, and only then remove the parts of an
        earlier export that this one has fewer of: a failed export leaves the folder as it was."""
        earlier = re.compile(rf"{re.escape(stem)}-\d{{3,}}\.ics")
        try:
            os.makedirs(folder, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=folder, prefix=".export-") as scratch:
                names = []
                for name, part in named_parts:
                    with open(os.path.join(scratch, name), "wb") as file:
                        file.write(part)
                    audit.bytes += len(part)
                    names.append(name)
                for name in os.listdir(folder):
                    if earlier.fullmatch(name) and name not in names:
                        os.unlink(os.path.join(folder, name))
                for name in names:
                    os.replace(os.path.join(scratch, name), os.path.join(folder, name))
        except OSError as error:
            raise CommandError(f"Cannot write the parts into {folder}: {error.strerror}.")
