"""Import benchmark: what importing a Google Calendar export costs, beside parsing it with icalendar.

    .venv/bin/python bench/imports.py [--megabytes N] [--runs K] [--json PATH] [--scratch-database NAME]

The file is a Google-style export of about N MB (50 by default: bench/google_export.py), written
reproducibly. Everything runs against a scratch database dropped at the end, as bench/export.py's:
`timeslot_bench_import` on the PostgreSQL server of DATABASE_URL if it names one, else an SQLite
file in a temporary folder. What is measured, K times, in rounds:

- floor: in a fresh process, `icalendar.Calendar.from_ical()` of the whole file (decoded first, not
  timed), the least a reader built on icalendar does; its time, CPU time and peak RSS growth;
- `manage.py import_slots` of the file for a user with no slots: the whole process's time and CPU
  less those of the same command importing a calendar of one event (its start-up), and its peak RSS
  (wait4) beyond that command's;
- POST /v1/import of the file through gunicorn (one sync worker, production settings): the time,
  the worker's CPU, its peak resident growth during the request (bench/procfs.py) and what it still
  holds once the answer is in (VmRSS after against before).

Each import goes to a user of its own, so every run creates every slot. The slot limits are lifted
to the file (IMPORT_MAX_BYTES, IMPORT_MAX_RECORDS, IMPORT_MAX_OCCURRENCES): the import is measured, not
its limits. Prints
medians and ranges; a ratio by round divides each run by the floor of its own round.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
DEFAULT_SCRATCH_DATABASE = "timeslot_bench_import"
MB = 1024 * 1024
ONE_EVENT = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:start-up@bench\r\n"
    b"DTSTAMP:20260101T000000Z\r\nDTSTART:20260101T090000Z\r\nSUMMARY:Start-up\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
# Run in a fresh process: the parse alone, as a reader built on icalendar must at least do it.
PARSE = """
import json, resource, sys, time
from icalendar import Calendar
text = open(sys.argv[1], "rb").read().decode()
before = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) * 1024
start, cpu = time.perf_counter(), time.process_time()
events = len(Calendar.from_ical(text).walk("VEVENT"))
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "rss_growth": peak - before, "events": events}))
"""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=50, help="size of the Google-style export (default 50)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each measurement (default 3)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated export (default 7)")
    parser.add_argument(
        "--json", type=Path, default=BENCH / "results" / "imports.json", help="where to write the JSON"
    )
    parser.add_argument(
        "--scratch-database", default=DEFAULT_SCRATCH_DATABASE,
        help="the PostgreSQL database created and dropped for the run (default timeslot_bench_import)",
    )
    args = parser.parse_args(argv)
    if args.megabytes <= 0 or args.runs < 1:
        parser.error("the size and the runs must be positive")
    return args


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def import_environment(database_url: str, size: int) -> dict[str, str]:
    from bench.served import production_environment

    return {
        **production_environment(database_url),
        "IMPORT_MAX_BYTES": str(max(size, 5 * MB)),
        "IMPORT_MAX_RECORDS": str(1_000_000),
        "IMPORT_MAX_OCCURRENCES": str(10_000_000),
    }


def create_users(env: dict, names: list[str]) -> dict[str, str]:
    """The users and their API tokens, made in a fresh process on the scratch database."""
    from bench.served import run_checked

    script = (
        "import json, sys, django; django.setup()\n"
        "from django.contrib.auth import get_user_model\n"
        "from rest_framework.authtoken.models import Token\n"
        "users = {name: get_user_model().objects.create_user(name) for name in sys.argv[1:]}\n"
        "print(json.dumps({name: Token.objects.create(user=user).key for name, user in users.items()}))\n"
    )
    return json.loads(run_checked([PYTHON, "-c", script, *names], env))


def parse_floor(path: Path, env: dict) -> dict:
    from bench.served import run_checked

    return json.loads(run_checked([PYTHON, "-c", PARSE, str(path)], env))


def command_import(path: Path, username: str, env: dict, workdir: Path) -> dict:
    """One `manage.py import_slots` process: its time, CPU and peak RSS."""
    command = [PYTHON, "manage.py", "import_slots", str(path), "--user", username]
    with open(workdir / "command.log", "wb") as output:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=output)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{(workdir / 'command.log').read_text()[-4000:]}")
    # ru_maxrss is in KiB on Linux.
    return {"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime, "max_rss": usage.ru_maxrss * 1024}


def http_import(port: int, worker: int, path: Path, token: str) -> dict:
    """One POST /v1/import of the file as multipart form data, the worker's memory watched."""
    import http.client

    from bench.procfs import PeakGrowth, cpu_seconds, memory_kib

    boundary = uuid.uuid4().hex
    body = b"".join((
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n".encode(),
        b"Content-Type: text/calendar\r\n\r\n", path.read_bytes(), f"\r\n--{boundary}--\r\n".encode(),
    ))
    headers = {"Authorization": f"Token token={token}", "Content-Type": f"multipart/form-data; boundary={boundary}"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1200)
    try:
        with PeakGrowth(worker) as peak:
            start, cpu = time.perf_counter(), cpu_seconds(worker)
            connection.request("POST", "/v1/import", body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            seconds, cpu = time.perf_counter() - start, cpu_seconds(worker) - cpu
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"POST /v1/import answered {response.status}: {answer[:2000]!r}")
    return {
        "seconds": seconds, "cpu_seconds": cpu, "rss_growth": peak.bytes,
        "rss_kept": memory_kib(worker)["VmRSS"] * 1024 - peak.before, "answer": json.loads(answer),
    }


def spread(values: list[float], digits: int = 2) -> str:
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main(argv=None) -> None:
    args = parse_args(argv)
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH]
    sys.path.insert(0, str(ROOT))
    from bench.export import migrate, scratch_database
    from bench.google_export import google_export
    from bench.procfs import children
    from bench.served import gunicorn

    with tempfile.TemporaryDirectory(prefix="timeslot-bench-import-") as folder:
        workdir = Path(folder)
        data, events, series = google_export(args.megabytes, seed=args.seed)
        path, start_up = workdir / "google-export.ics", workdir / "one-event.ics"
        path.write_bytes(data)
        start_up.write_bytes(ONE_EVENT)
        log(f"a Google-style export of {len(data):,} bytes: {events:,} events, {series:,} of them series")
        with scratch_database(workdir, args.scratch_database) as scratch:
            env = import_environment(scratch.url, len(data))
            migrate(env)
            names = ["start-up", *(f"{kind}-{run}" for run in range(args.runs) for kind in ("command", "http"))]
            tokens = create_users(env, names)
            rounds = []
            with gunicorn(env, ["--workers", "1", "--worker-class", "sync", "--timeout", "1200"],
                          log_folder=workdir, ready=lambda pid: len(children(pid)) == 1) as server:
                (worker,) = children(server.pid)
                baseline = command_import(start_up, "start-up", env, workdir)
                for run in range(args.runs):
                    log(f"round {run + 1} of {args.runs}")
                    floor = parse_floor(path, env)
                    command = command_import(path, f"command-{run}", env, workdir)
                    served = http_import(server.port, worker, path, tokens[f"http-{run}"])
                    rounds.append({"floor": floor, "command": command, "http": served})
        report = summarise(rounds, baseline, len(data), events, series, scratch.server)
    print(table(report))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({**report, "rounds": rounds}, indent=2, default=str))


def summarise(rounds: list[dict], baseline: dict, size: int, events: int, series: int, server: str) -> dict:
    floors = [run["floor"]["seconds"] for run in rounds]
    floor_cpu = [run["floor"]["cpu_seconds"] for run in rounds]
    rows = {"floor: icalendar's Calendar.from_ical()": {
        "seconds": floors, "cpu_seconds": floor_cpu, "memory_mb": [run["floor"]["rss_growth"] / MB for run in rounds],
    }}
    # The command less its start-up: the same command importing a calendar of one event.
    rows["manage.py import_slots, less start-up"] = {
        "seconds": [run["command"]["seconds"] - baseline["seconds"] for run in rounds],
        "cpu_seconds": [run["command"]["cpu_seconds"] - baseline["cpu_seconds"] for run in rounds],
        "memory_mb": [(run["command"]["max_rss"] - baseline["max_rss"]) / MB for run in rounds],
    }
    rows["POST /v1/import"] = {
        "seconds": [run["http"]["seconds"] for run in rounds],
        "cpu_seconds": [run["http"]["cpu_seconds"] for run in rounds],
        "memory_mb": [run["http"]["rss_growth"] / MB for run in rounds],
        "kept_mb": [run["http"]["rss_kept"] / MB for run in rounds],
    }
    for name, row in rows.items():
        row["by_round"] = [seconds / floor for seconds, floor in zip(row["seconds"], floors)]
        row["cpu_by_round"] = [cpu / floor for cpu, floor in zip(row["cpu_seconds"], floor_cpu)]
    answer = rounds[-1]["http"]["answer"]
    return {
        "server": server, "bytes": size, "events": events, "series": series,
        "answer": {key: answer.get(key) for key in ("created", "updated", "unchanged")}, "rows": rows,
    }


def table(report: dict) -> str:
    lines = [
        f"Import of a Google-style export: {report['bytes']:,} bytes, {report['events']:,} events "
        f"({report['series']:,} series), {report['server']}; the last answer {report['answer']}",
        "",
        "| path | seconds | CPU s | x floor by round | CPU x floor | memory growth MB | kept MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in report["rows"].items():
        kept = spread(row["kept_mb"], 0) if "kept_mb" in row else ""
        lines.append(
            f"| {name} | {spread(row['seconds'])} | {spread(row['cpu_seconds'])} | {spread(row['by_round'])} | "
            f"{spread(row['cpu_by_round'])} | {spread(row['memory_mb'], 0)} | {kept} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
