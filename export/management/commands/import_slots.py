from typing import BinaryIO

from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError

from export.imports.archives import ArchiveTooLarge
from export.imports.records import ImportRejected
from export.imports.service import FileTooLarge, ImportConflict, ImportResult, import_slots
from export.management.arguments import group_not_found, group_uuid, user_named
from export.management.progress import ProgressBar
from export.progress import UNWATCHED
from slots.models import SlotGroup
from timeslot.exceptions import DatabaseBusy, is_database_busy

# Problems listed before "... and N more": enough to fix a file, short enough to read.
LISTED_PROBLEMS = 10


class Command(BaseCommand):
    help = (
        "Import an iCalendar, Outlook CSV or Timeslot JSON file, or a ZIP of calendars (Google Calendar's "
        "export), into a user's slots, as POST /v1/import does."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the file to import (its format, or a ZIP, is read from its content)")
        parser.add_argument("--user", required=True, help="username of the slots' creator")
        parser.add_argument("--group", help="uuid of a slot group the user owns or belongs to (default: Imports)")
        parser.add_argument("--time-zone", help="IANA zone of times the file does not place (default: TIME_ZONE)")

    def handle(self, *args, file, user, group, time_zone, **options):
        owner = user_named(user)
        group_id = group_uuid(group) if group else None
        progress = ProgressBar(self.stderr) if self.stderr.isatty() else UNWATCHED
        try:
            with self.opened(file) as data:
                result = import_slots(user=owner, data=data, group=group_id, time_zone=time_zone, progress=progress)
        except SlotGroup.DoesNotExist:
            raise group_not_found(group, owner)
        except (FileTooLarge, ArchiveTooLarge, ImportConflict) as error:
            raise CommandError(str(error))
        except OperationalError as error:
            if not is_database_busy(error):
                raise
            raise CommandError(f"{file} was not imported: {DatabaseBusy.default_detail}")
        except ImportRejected as rejected:
            raise CommandError(self.problem_list(file, rejected))
        finally:
            progress.finish()
        self.summary(result)
        self.series(result)
        for warning in result.warnings:
            self.stdout.write(f"Warning: {warning['where']}: {warning['warning']}")

    def summary(self, result: ImportResult) -> None:
        """The counts; for a ZIP, then one line a calendar, with its group."""
        counts = (
            f"Created {result.created}, updated {result.updated}, unchanged {result.unchanged}, "
            f"removed {result.removed}"
        )
        if result.calendars is None:
            self.stdout.write(f"{counts}.")
            return
        self.stdout.write(f"{counts}, in {len(result.calendars)} calendars:")
        for calendar in result.calendars:
            new = " (new)" if calendar.new_group else ""
            self.stdout.write(
                f"  {calendar.file}: group {calendar.group.name!r}{new} {calendar.group.uuid}: created "
                f"{calendar.created}, updated {calendar.updated}, unchanged {calendar.unchanged}, "
                f"removed {calendar.removed}."
            )

    def series(self, result: ImportResult) -> None:
        """The window and caps the repeating events were read with, and one line a series."""
        if not result.series:
            return
        window = result.recurrence()
        self.stdout.write(
            f"Repeating events: their occurrences from {window['from']} until {window['until']}, at most "
            f"{window['max_occurrences_per_series']:,} of one, {window['max_occurrences']:,} in all."
        )
        for series in result.series:
            cut = " (capped)" if series["capped"] else ""
            self.stdout.write(
                f"Series: {series['where']}: {series['title']!r} ({series['uid']}): {series['occurrences']} "
                f"occurrence(s){cut}."
            )

    @staticmethod
    def opened(path: str) -> BinaryIO:
        """The file, opened to be read as the import reads it: a line at a time, never whole."""
        try:
            return open(path, "rb")
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.")

    @staticmethod
    def problem_list(path: str, rejected: ImportRejected) -> str:
        """One line for one problem; else the first few, one a line."""
        listed = [f"{problem['where']}: {problem['problem']}" for problem in rejected.problems[:LISTED_PROBLEMS]]
        if rejected.total == 1:
            return f"{path} was not imported: {listed[0]}"
        if rejected.total > LISTED_PROBLEMS:
            listed.append(f"... and {rejected.total - LISTED_PROBLEMS:,} more.")
        return "\n  ".join([f"{path} was not imported, {rejected.total:,} problems:", *listed])
