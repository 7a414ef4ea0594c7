"""deploy/timeslot.service, the unit the README's production steps install: systemd accepts it, and the
command it runs, from the folder it names, serves the service."""
import configparser
import os
import shlex
import signal
import subprocess
import urllib.request
from pathlib import Path

from bench import served

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "timeslot.service"
# Where the README's steps put the project: the unit names it, the test replaces it with the checkout.
INSTALLED_AT = "/srv/timeslot"


def service_section(text: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read_string(text)
    return parser["Service"]


def test_systemd_verifies_the_unit_as_installed_from_this_checkout(tmp_path):
    unit = tmp_path / "timeslot.service"
    unit.write_text(UNIT.read_text().replace(INSTALLED_AT, str(ROOT)))

    verified = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)

    # Any unknown key, bad value or missing command is a line on stderr and a non-zero exit.
    assert (verified.returncode, verified.stderr) == (0, "")


def test_the_units_command_from_its_folder_serves_the_health_probe(tmp_path):
    service = service_section(UNIT.read_text().replace(INSTALLED_AT, str(ROOT)))
    assert service["WorkingDirectory"] == str(ROOT)
    assert service["EnvironmentFile"] == "/etc/timeslot/env"
    port = served.free_port()
    # The unit's command as it stands, bound to a free loopback port rather than gunicorn.conf.py's 8000.
    command = [*shlex.split(service["ExecStart"]), "--bind", f"127.0.0.1:{port}", "--no-control-socket"]
    env = {**os.environ, **served.production_environment(f"sqlite:///{tmp_path}/unit.sqlite3")}
    env.pop("REDIS_URL", None)
    process = subprocess.Popen(command, cwd=service["WorkingDirectory"], env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        served.wait_listening(process, [port], "gunicorn")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=60) as answer:
            assert (answer.status, answer.read()) == (200, b'{"status":"ok"}')
        # The unit's reload is gunicorn's: SIGHUP replaces the workers and the service goes on answering.
        assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
        process.send_signal(signal.SIGHUP)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=60) as answer:
            assert answer.status == 200
    finally:
        served.stopped(process, signal.SIGINT)
