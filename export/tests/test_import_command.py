"""manage.py import_slots: POST /v1/import's service from the shell, errors as one CommandError."""
import zipfile

import pytest
from django.core.management import CommandError, ManagementUtility, call_command
from django.test import override_settings

from export.tests.importing import INTEROP, calendar, interop, upload, window_days
from export.tests.terminal import demo_database, on_terminal
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


def bar(name: str, counted: str) -> str:
    return f"{name} [{'#' * 30}] {counted}"


def test_on_a_terminal_each_pass_over_the_file_and_the_writing_show_a_bar_on_stderr(tmp_path):
    """Checked, read, written: the three stages of an import, each left on its line once complete; stdout
    holds the summary alone, as a script reads it."""
    path = tmp_path / "many.ics"
    path.write_text(calendar(*(
        f"UID:many-{n}\nSUMMARY:Meeting {n}\nDTSTART:20261207T{n % 24:02}0000Z\nDESCRIPTION:{'x' * 500}"
        for n in range(2500)
    )), newline="")
    assert path.stat().st_size > 1e6
    megabytes = f"{path.stat().st_size / 1e6:,.1f}"

    process, shown = on_terminal(["import_slots", "--user", "demo", str(path)], demo_database(tmp_path))

    assert process.returncode == 0, shown
    assert shown == [
        bar("Checking", f"{megabytes}/{megabytes} MB"),
        bar("Reading", f"{megabytes}/{megabytes} MB"),
        bar("Writing", "2,500/2,500 slots"),
    ]
    assert process.stdout == "Created 2500, updated 0, unchanged 0, removed 0.\n"


def test_a_zips_calendars_show_their_names_on_their_bars(tmp_path):
    path = tmp_path / "takeout.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("work.ics", calendar("UID:w\nSUMMARY:Review\nDTSTART:20261207T090000Z"))
        archive.writestr("home.ics", calendar("UID:h\nSUMMARY:Dinner\nDTSTART:20261207T190000Z"))

    process, shown = on_terminal(["import_slots", "--user", "demo", str(path)], demo_database(tmp_path))

    assert process.returncode == 0, shown
    assert [line.split(" [")[0] for line in shown] == [
        "Checking work.ics", "Reading work.ics", "Checking home.ics", "Reading home.ics",
        "Writing work.ics", "Writing home.ics",
    ]
    assert all("#" * 30 in line for line in shown)


def test_a_refused_file_ends_its_bar_before_the_error(tmp_path):
    path = tmp_path / "broken.ics"
    path.write_text(calendar("UID:a\nSUMMARY:No start"), newline="")

    process, shown = on_terminal(["import_slots", "--user", "demo", str(path)], demo_database(tmp_path))

    assert process.returncode == 1
    assert shown[-1].startswith("CommandError: ") and "was not imported" in shown[-1]
    assert shown[:2] == [bar("Checking", "0.1/0.1 kB"), bar("Reading", "0.1/0.1 kB")]


def test_without_a_terminal_no_bar_is_drawn(user, ics, capsys):
    call_command("import_slots", "--user", user.username, str(ics))

    assert capsys.readouterr().err == ""
