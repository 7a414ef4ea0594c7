"""The project served by gunicorn on a free loopback port, for what times it, fuzzes it or tests it over
real HTTP (bench/export.py, bench/refusal.py, fuzz/run.py, export/tests/test_abuse.py and test_faults.py)."""
import contextlib
import secrets
import signal
import socket
import string
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CONFIG = ROOT / "gunicorn.conf.py"


def production_environment(database_url: str) -> dict[str, str]:
    """Settings as in production (DEBUG off: errors are what a client gets) on this database, served
    over plain HTTP on loopback."""
    alphabet = string.ascii_letters + string.digits
    return {
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "timeslot.settings",
        "DEBUG": "0",
        "SECRET_KEY": "".join(secrets.choice(alphabet) for _ in range(50)),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        # No static files collected (with_static_files collects them): WhiteNoise's warning of their missing
        # folder, written as a worker boots, would land among the first request's log lines.
        "PYTHONWARNINGS": "ignore:No directory at:UserWarning",
    }


def run_checked(command: list[str], env: dict) -> str:
    """A command's standard output; RuntimeError with the end of its standard error if it fails."""
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stderr[-4000:]}")
    return completed.stdout


def with_static_files(env: dict, folder: Path) -> dict[str, str]:
    """env with STATIC_ROOT=folder, once collectstatic has written the project's static files there as production
    serves them (with DEBUG off: each name holding its content's hash, a gzip beside it)."""
    env = {**env, "STATIC_ROOT": str(folder)}
    run_checked([str(BIN / "python"), "manage.py", "collectstatic", "--noinput"], env)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_listening(process: subprocess.Popen, ports: list[int], what: str, *, log: Path | None = None,
                   seconds: float = 60, ready: Callable[[], bool] = lambda: True) -> None:
    """Once the process listens on every port and ready() holds; RuntimeError with the end of its log if it
    exits first or seconds pass."""
    deadline = time.monotonic() + seconds
    while not (all(map(listening, ports)) and ready()):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start" + (f":\n{log.read_text()[-4000:]}" if log else ""))
        time.sleep(0.1)


def wait_for(condition: Callable[[], object], what: str, *, seconds: float):
    """condition()'s first true answer, polled for at most seconds; TimeoutError after them."""
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"still not {what} after {seconds} s")
        time.sleep(0.05)
    return result


def stopped(process: subprocess.Popen, stop_signal: int, *, seconds: float = 15) -> None:
    """The process ended by stop_signal (its own way to shut down), killed if it is still there after seconds."""
    process.send_signal(stop_signal)
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Served:
    port: int
    pid: int
    log: Path | None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def gunicorn(env: dict, options: list[str], *, log_folder: Path | None = None,
             ready: Callable[[int], bool] = lambda pid: True):
    """gunicorn with the production settings (gunicorn.conf.py) and these options on top serving the project
    until the block ends, once it listens and ready(its pid) holds; its output in log_folder/gunicorn-<port>.log,
    or nowhere."""
    port = free_port()
    log = log_folder / f"gunicorn-{port}.log" if log_folder else None
    command = [
        str(BIN / "gunicorn"), "--config", str(CONFIG), "timeslot.wsgi:application", "--bind", f"127.0.0.1:{port}",
        # No shared control socket in ~/.gunicorn.
        "--no-control-socket", *options,
    ]
    with open(log or "/dev/null", "wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=output)
    try:
        wait_listening(process, [port], "gunicorn", log=log, ready=lambda: ready(process.pid))
        yield Served(port=port, pid=process.pid, log=log)
    finally:
        # SIGINT is gunicorn's quick shutdown.
        stopped(process, signal.SIGINT)
