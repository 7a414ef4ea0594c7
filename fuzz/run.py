"""`make fuzz`: Schemathesis against /v1/schema/, served by gunicorn on a scratch SQLite database.

Three runs, each bounded: with the demo user's token (no 5xx, every answer as the schema says, and
every operation that succeeded refuses the same request without a token or with a wrong one), then
with a wrong token and with none (no operation that needs a token ever succeeds). Then the hostile
requests of fuzz/hostile.py, which Schemathesis does not make (the schema and the docs, bodies too deep
or too many, a wrong Host): each a JSON 4xx with at most one warning line in the server's log. Nothing
in the log is an error or a traceback. The token is made here and handed to Schemathesis through the
environment: it is never printed.

    .venv/bin/python fuzz/run.py [--max-examples N] [--seed N]
"""
import argparse
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.served import BIN, gunicorn, production_environment, run_checked  # noqa: E402 (the root is on the path now)
from fuzz import hostile  # noqa: E402

CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"

# What every run checks; the runs without a valid token add that nothing needing one succeeds.
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "unsupported_method",
]
WITH_TOKEN = [*CHECKS, "ignored_auth"]
WITHOUT_TOKEN = [*CHECKS, "refused_without_a_valid_token"]

# The limits of the throttling the service may have, far above what one fuzz run sends:
# the runs test the schema, not the limits (they have tests of their own).
GENEROUS_LIMITS = {
    "THROTTLE_FAILED_AUTH_RATE": "100000/minute",
    "THROTTLE_EXPORT_RATE": "100000/minute",
    "EXPORT_MAX_CONCURRENT": "1000",
    "THROTTLE_FEED_CHANGE_RATE": "100000/minute",
    "THROTTLE_FEED_FETCH_RATE": "100000/minute",
    "FEED_MAX_PER_USER": "100000",
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=int, default=25, help="test cases per operation and phase")
    parser.add_argument("--seed", type=int, default=None, help="Schemathesis' random seed (default: a new one)")
    parser.add_argument("--max-time", type=int, default=40,
                        help="seconds the run with a token takes (its fuzzing repeats until they are spent); "
                        "the runs without one take half")
    return parser.parse_args(argv)


def server_environment(database_url: str) -> dict[str, str]:
    """Production settings (DEBUG off: errors are the JSON a client gets) on the scratch database."""
    return {
        **{name: value for name, value in os.environ.items() if not name.startswith("FUZZ_")},
        **GENEROUS_LIMITS,
        **production_environment(database_url),
        "LOG_LEVEL": "WARNING",
    }


def demo_database(env: dict) -> str:
    """Migrate, load the demo data, and return a new token of the demo user (on stdout of a pipe, never shown)."""
    python = str(BIN / "python")
    run_checked([python, "manage.py", "migrate", "--noinput"], env)
    run_checked([python, "manage.py", "loaddata", "fixtures/demo.json"], env)
    make_token = (
        "from django.contrib.auth import get_user_model; from rest_framework.authtoken.models import Token; "
        "print(Token.objects.create(user=get_user_model().objects.get(username='demo')).key, end='')"
    )
    return run_checked([python, "manage.py", "shell", "--no-imports", "-c", make_token], env)


def schemathesis(base_url: str, authorization: str, checks: list[str], max_time: int, args: argparse.Namespace,
                 workdir: Path, name: str) -> int:
    """One Schemathesis run; its exit status (0: every check passed)."""
    command = [
        str(BIN / "schemathesis"), "--config-file", str(CONFIG), "run", f"{base_url}/v1/schema/",
        "--url", base_url, "--checks", ",".join(checks), "--max-examples", str(args.max_examples),
        "--max-time", str(max_time), "--workers", "1", "--generation-database", "none",
        "--report", "junit", "--report-dir", str(workdir / name),
    ]
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    env = {
        **os.environ,
        # The header value the config file gives the legacyToken scheme, and the module with our own check.
        "FUZZ_AUTHORIZATION": authorization,
        "SCHEMATHESIS_HOOKS": "fuzz.checks",
        "PYTHONPATH": str(ROOT),
    }
    print(f"== schemathesis, {name}", flush=True)
    return subprocess.run(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL).returncode


def main(argv=None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="timeslot-fuzz-") as scratch:
        workdir = Path(scratch)
        env = server_environment(f"sqlite:///{workdir / 'fuzz.sqlite3'}")
        token = demo_database(env)
        runs = [
            ("with the demo user's token", f"Token token={token}", WITH_TOKEN, args.max_time),
            ("with a wrong token", f"Token token={secrets.token_hex(20)}", WITHOUT_TOKEN, args.max_time // 2),
            # An empty header value is no Authorization header at all for the service.
            ("without a token", "", WITHOUT_TOKEN, args.max_time // 2),
        ]
        failed = []
        # One worker: SQLite takes one writer at a time, and Schemathesis sends one request at a time.
        options = ["--workers", "1", "--worker-class", "gthread", "--threads", "2"]
        with gunicorn(env, options, log_folder=workdir) as server:
            for name, authorization, checks, max_time in runs:
                report = name.replace(" ", "-")
                if schemathesis(server.url, authorization, checks, max_time, args, workdir, report) != 0:
                    failed.append(name)
            print("== hostile requests", flush=True)
            refused_wrongly = hostile.failures(server.url, runs[0][1], server.log)
            for failure in refused_wrongly:
                print(failure, file=sys.stderr)
            if refused_wrongly:
                failed.append("the hostile requests")
            # Read before the server stops: a worker stopped mid-write logs the signal's traceback.
            errors = [line for line in server.log.read_text().splitlines()
                      if any(mark in line for mark in ("Traceback", " ERROR ", "[ERROR]"))]
    if errors:
        print(f"The server logged {len(errors)} errors or tracebacks.", file=sys.stderr)
    if failed or errors:
        print(f"fuzz: failed {', '.join(failed) or 'on the server log'}", file=sys.stderr)
        return 1
    print("fuzz: every run passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
