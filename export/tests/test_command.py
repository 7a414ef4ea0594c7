"""manage.py export_slots: the API's bytes on stdout or in a file, through the same code."""
import json
import uuid

import pytest
from django.core.management import ManagementUtility, call_command
from django.db import connection

from export.tests.ical_reader import parse_events
from export.tests.terminal import demo_database, on_terminal
from slots.tests.factories import SlotFactory, SlotGroupFactory

pytestmark = pytest.mark.django_db


def without_stamp(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\r\n") if not line.startswith(b"DTSTAMP:")]


def run(*argv: str) -> int:
    """Run the command as the shell does; its exit status."""
    try:
        ManagementUtility(["manage.py", "export_slots", *argv]).execute()
    except SystemExit as exit:
        return exit.code
    return 0


def comparable(data: bytes, fmt: str):
    """The export less what records the moment it was made."""
    if fmt == "timeslot":
        return {**json.loads(data), "exported_at": None}
    return without_stamp(data)


@pytest.mark.parametrize("fmt", ["google", "ical", "outlook", "timeslot"])
def test_stdout_has_the_apis_bytes(api, user, capfdbinary, fmt):
    group = SlotGroupFactory(owner=user, name="Team")
    SlotFactory.create_batch(3, creator=user, groups=[group], description="long; text, " * 20)
    SlotFactory(creator=user)
    api_body = b"".join(api.post(f"/v1/export/{fmt}", {"group": str(group.uuid)}, format="json").streaming_content)

    call_command("export_slots", "--user", user.username, "--group", str(group.uuid), "--format", fmt)

    command_body = capfdbinary.readouterr().out
    assert command_body.count(b"Slot title") == 3
    assert comparable(command_body, fmt) == comparable(api_body, fmt)


def test_the_csvs_time_zone_is_the_apis(api, user, capfdbinary):
    SlotFactory.create_batch(3, creator=user, time_zone="Europe/Berlin")
    api_body = b"".join(api.post("/v1/export/outlook", {"time_zone": "Asia/Tokyo"}, format="json").streaming_content)

    call_command("export_slots", "--user", user.username, "--format", "outlook", "--time-zone", "Asia/Tokyo")

    command_body = capfdbinary.readouterr().out
    assert command_body == api_body
    assert command_body != b"".join(api.post("/v1/export/outlook").streaming_content)


def test_a_time_zone_that_is_not_an_iana_name_is_a_one_line_error(user, capsys):
    assert run("--user", user.username, "--format", "outlook", "--time-zone", "Mars/Olympus_Mons") == 1

    err = capsys.readouterr().err
    assert err == "CommandError: --time-zone must be an IANA time zone, not 'Mars/Olympus_Mons'.\n"


def test_output_writes_the_file(user, tmp_path):
    SlotFactory.create_batch(2, creator=user)
    target = tmp_path / "calendar.ics"

    call_command("export_slots", "--user", user.username, "--output", str(target))

    assert len(parse_events(target.read_bytes())) == 2
    assert [path.name for path in tmp_path.iterdir()] == ["calendar.ics"]


def test_an_unknown_user_is_a_one_line_error(capsys):
    assert run("--user", "nobody") == 1

    err = capsys.readouterr().err
    assert err == "CommandError: No user named 'nobody'.\n"


@pytest.mark.parametrize("value", ["not-a-uuid", "12", "../../etc/passwd"])
def test_a_malformed_group_is_a_one_line_error(user, capsys, value):
    assert run("--user", user.username, "--group", value) == 1

    err = capsys.readouterr().err
    assert err.startswith("CommandError: --group must be a uuid") and err.count("\n") == 1


@pytest.mark.parametrize("whose", ["missing", "stranger"])
def test_an_unknown_or_foreign_group_is_a_one_line_error(user, capsys, whose):
    group = uuid.uuid4() if whose == "missing" else SlotGroupFactory().uuid

    assert run("--user", user.username, "--group", str(group)) == 1

    err = capsys.readouterr().err
    assert err == f"CommandError: No slot group {group} for user '{user.username}'.\n"


def test_an_unwritable_output_is_a_one_line_error_and_leaves_nothing(user, tmp_path, capsys):
    SlotFactory(creator=user)

    assert run("--user", user.username, "--output", str(tmp_path / "missing" / "out.ics")) == 1

    err = capsys.readouterr().err
    assert err.startswith("CommandError: Cannot write") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_format_is_refused(user, capsys):
    assert run("--user", user.username, "--format", "pdf") == 2

    assert "invalid choice: 'pdf'" in capsys.readouterr().err


def test_a_failed_export_leaves_the_previous_file_untouched(user, tmp_path):
    SlotFactory.create_batch(300, creator=user, description="long text " * 50)
    last = user.slots.last()
    with connection.cursor() as cursor:
        # An all-day slot in a zone that does not exist cannot become an event.
        cursor.execute(
            "UPDATE slots_slot SET all_day = %s, time_zone = 'Nowhere/Atlantis' WHERE id = %s", [True, last.pk]
        )
    target = tmp_path / "calendar.ics"
    target.write_bytes(b"yesterday's export")

    with pytest.raises(Exception):
        call_command("export_slots", "--user", user.username, "--output", str(target))

    assert target.read_bytes() == b"yesterday's export"
    assert [path.name for path in tmp_path.iterdir()] == ["calendar.ics"]


def test_on_a_terminal_a_progress_bar_goes_to_stderr_and_the_file_stays_clean(tmp_path):
    target = tmp_path / "demo.ics"

    process, shown = on_terminal(["export_slots", "--user", "demo", "--output", str(target)], demo_database(tmp_path))

    assert process.returncode == 0
    assert shown == ["[##############################] 6/6 slots"]
    assert len(parse_events(target.read_bytes())) == 6
