"""manage.py import_slots: POST /v1/import's service from the shell, errors as one CommandError."""
import pytest
from django.core.management import CommandError, ManagementUtility, call_command
from django.test import override_settings

from export.tests.importing import INTEROP, calendar, interop, upload, window_days
from slots.models import Slot, SlotGroup
from slots.tests.factories import SlotGroupFactory

pytestmark = pytest.mark.django_db


def run(*argv: str) -> int:
    """Run the command as the shell does; its exit status."""
    try:
        ManagementUtility(["manage.py", "import_slots", *argv]).execute()
    except SystemExit as exit:
        return exit.code
    return 0


@pytest.fixture
def ics(tmp_path):
    path = tmp_path / "calendar.ics"
    path.write_text(calendar("UID:a\nSUMMARY:Kick-off\nDTSTART:20261207T090000Z"), newline="")
    return path


def test_it_imports_and_prints_the_counts_the_series_and_the_warnings(user, capsys, tmp_path):
    path = tmp_path / "series.ics"
    path.write_text(calendar(
        f"UID:s\nSUMMARY:Standup\nDTSTART:{first_day()}T090000Z\nRRULE:FREQ=DAILY;COUNT=3",
        "UID:a\nSUMMARY:Long\nDTSTART:20260707T090000Z\nLOCATION:" + "x" * 300,
    ))

    call_command("import_slots", "--user", user.username, str(path))

    first, after = window_days()
    assert capsys.readouterr().out.splitlines() == [
        "Created 4, updated 0, unchanged 0, removed 0.",
        f"Repeating events: their occurrences from {first}T00:00:00Z until {after}T00:00:00Z, at most 1,500 of one, "
        "50,000 in all.",
        "Series: line 4: 'Standup' (s): 3 occurrence(s).",
        "Warning: line 10: The location was cut to 255 characters.",
    ]
    assert Slot.objects.filter(creator=user, title="Standup").count() == 3


def first_day() -> str:
    return window_days()[0].strftime("%Y%m%d")


def test_it_is_the_same_import_as_the_api(api, user, ics, capsys):
    upload(api, ics.read_bytes())

    call_command("import_slots", "--user", user.username, str(ics))

    assert capsys.readouterr().out == "Created 0, updated 0, unchanged 1, removed 0.\n"


def test_group_and_time_zone_are_passed_on(user, tmp_path):
    group = SlotGroupFactory(owner=user, name="Team")
    path = tmp_path / "floating.ics"
    path.write_text(calendar("UID:a\nDTSTART:20261207T090000"))

    call_command("import_slots", "--user", user.username, "--group", str(group.uuid), "--time-zone", "Asia/Tokyo",
                 str(path))

    slot = group.slots.get()
    assert (slot.time_zone, slot.start.hour) == ("Asia/Tokyo", 0)


def test_an_unknown_user_is_a_one_line_error(ics, capsys):
    assert run("--user", "nobody", str(ics)) == 1

    assert capsys.readouterr().err == "CommandError: No user named 'nobody'.\n"


def test_a_missing_file_is_a_one_line_error(user, tmp_path, capsys):
    assert run("--user", user.username, str(tmp_path / "nope.ics")) == 1

    err = capsys.readouterr().err
    assert err == f"CommandError: Cannot read {tmp_path / 'nope.ics'}: No such file or directory.\n"


def test_a_malformed_group_is_a_one_line_error(user, ics, capsys):
    assert run("--user", user.username, "--group", "12", str(ics)) == 1

    assert capsys.readouterr().err == "CommandError: --group must be a uuid, not '12'.\n"


def test_a_foreign_group_is_a_one_line_error(user, ics, capsys):
    group = SlotGroupFactory().uuid

    assert run("--user", user.username, "--group", str(group), str(ics)) == 1

    assert capsys.readouterr().err == f"CommandError: No slot group {group} for user 'nora'.\n"


def test_a_broken_file_with_one_problem_is_a_one_line_error(user, capsys):
    path = str(INTEROP / "broken_dtstart.ics")
    interop("broken_dtstart.ics")

    # run() ends as manage.py does, closing the database connection: no queries after it.
    assert run("--user", user.username, path) == 1

    err = capsys.readouterr().err
    assert err.startswith(f"CommandError: {path} was not imported: line 4: DTSTART could not be read")
    assert err.count("\n") == 1


def test_a_broken_file_writes_nothing(user):
    interop("broken_dtstart.ics")

    with pytest.raises(CommandError):
        call_command("import_slots", "--user", user.username, str(INTEROP / "broken_dtstart.ics"))

    assert not Slot.objects.exists() and not SlotGroup.objects.exists()


def test_many_problems_are_a_short_list(user, tmp_path, capsys):
    path = tmp_path / "broken.ics"
    path.write_text(calendar(*(f"UID:{n}" for n in range(12))))

    assert run("--user", user.username, str(path)) == 1

    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"CommandError: {path} was not imported, 12 problems:"
    assert lines[1] == "  line 4: The event has no DTSTART."
    assert lines[-1] == "  ... and 2 more."
    assert len(lines) == 12


@override_settings(IMPORT_MAX_BYTES=10)
def test_a_file_over_the_size_limit_is_a_one_line_error(user, ics, capsys):
    assert run("--user", user.username, str(ics)) == 1

    assert capsys.readouterr().err == "CommandError: The file is larger than 10 bytes, the most an import takes.\n"


def test_an_unknown_time_zone_is_an_error(user, ics, capsys):
    assert run("--user", user.username, "--time-zone", "Nowhere", str(ics)) == 1

    err = capsys.readouterr().err
    assert err == f"CommandError: {ics} was not imported: time_zone: 'Nowhere' is not an IANA time zone.\n"
