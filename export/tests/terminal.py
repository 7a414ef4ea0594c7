"""The real command line in its own process, its stderr on a pseudo-terminal (where the commands draw their
progress bars), and what a person would see there."""
import os
import pty
import subprocess
import sys
from pathlib import Path

MANAGE = [sys.executable, "manage.py"]


def demo_database(folder: Path) -> dict[str, str]:
    """The environment of a command on a new SQLite database in folder, migrated, with the demo's data."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{folder / 'cli.sqlite3'}"}
    subprocess.run([*MANAGE, "migrate", "-v0"], env=env, check=True)
    subprocess.run([*MANAGE, "loaddata", "-v0", "fixtures/demo.json"], env=env, check=True)
    return env


def on_terminal(argv: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, list[str]]:
    """manage.py argv, its stdout captured, its stderr on a terminal; the process and the terminal's lines as
    they stand once it is over (a line redrawn with a carriage return shows its last drawing)."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen([*MANAGE, *argv], env=env, stdout=subprocess.PIPE, stderr=terminal)
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                # EIO: the process and every copy of the terminal's other end are gone.
                break
            if not chunk:
                break
            shown += chunk
        out, _ = process.communicate(timeout=120)
    finally:
        os.close(controller)
    lines = shown.decode().replace("\r\n", "\n").split("\n")
    return (subprocess.CompletedProcess(process.args, process.returncode, out.decode()),
            [line.rsplit("\r", 1)[-1] for line in lines if line.rsplit("\r", 1)[-1]])
