"""Export benchmark: how close each export path gets to the cost of reading its rows.

    .venv/bin/python bench/export.py [--slots N] [--runs K] [--reference-slots M] [--json PATH] [--skip-load]
                                     [--scratch-database NAME]

Everything runs against a scratch database that is dropped at the end, even
on error: `timeslot_bench` (or --scratch-database), created anew on the
PostgreSQL server of DATABASE_URL if it names one, else an SQLite file in a
temporary folder. Two benchmarks on one server need two names. It
is migrated, then filled in this process with reproducible, realistic slots
(bench/seed.py): N for the measured user, M for the reference user, none for
a user whose export measures the command's start-up, and 1,000 for each of
the 50 users of the load run, every user with an API token.

What is measured, K times, in rounds so that every method sees the same warm
caches (one unmeasured round warms them first):

- floor: in a fresh process (bench/probes.py), fetching the fields of the
  user's slots that the export reads, as Python objects,
  `values_list(*fields).iterator(chunk_size=2000)`, and discarding them. Every
  other time is compared with its median. (The export itself has the database
  write the uuid and the times as text, export/formats/sql_text.py.)
- POST /v1/export/google and /v1/export/ical through gunicorn (one sync worker,
  DEBUG=0) on a free loopback port, with the existing clients' headers and an empty body:
  the total time, the time to the response's head (the first chunk comes with
  it), the body's size, streamed and discarded, and the worker's peak resident
  memory growth: VmHWM after the request minus VmRSS before it, the peak
  having been reset through /proc/<worker>/clear_refs (bench/procfs.py).
  Then the google calendar windowed to the generated slots' last month
  (`?from=2025-12-01&until=2026-01-01`): the window's worst case, every
  earlier slot read and passed over before the first row (its ratio is over
  the whole calendar's floor).
  The same for POST /v1/export/google with `Accept: application/zip`: the
  calendar as a ZIP of parts of at most EXPORT_PART_MAX_BYTES, whose memory
  should stay about one part whatever the number of slots.
- `manage.py export_slots` to a file, as the google and the ical format: the
  whole process's time and its peak RSS (wait4) beyond that of the same command
  for a user with no slots, whose time is reported as the start-up.
- The reference, django-ical's ICalFeed (bench/reference.py) rendering M slots
  in a fresh process, with its peak RSS growth, against the floor of those M rows.

Beside each time, its CPU time: the measured process's (the probe, the worker,
the command) and that of its PostgreSQL backend, polled every 50 ms. Other
work on the machine stretches wall times but barely CPU times, so the CPU
ratio is the steadier figure on a shared machine.

Times are medians and minimums of the K runs; memory is the largest growth of
the K runs; a ratio is the median over the median floor. The ratio by round
divides each run by the floor of its own round, measured seconds before: its
median and range hold when the machine's speed drifts between rounds.

The load run (--skip-load leaves it out): wrk (Debian's package) with
bench/load.lua, 2 threads and 50 connections for --load-seconds, against
gunicorn with --load-workers gthread workers of --load-threads threads. Each
request exports a different one of the 50 users' calendars: the script deals
the users' tokens to wrk's threads and each thread cycles through its own
(wrk cannot tie a token to one connection), so about 50 different calendars
are in flight at once. It reports requests/s, p50 and p99 latency, non-2xx
answers and socket errors, and on PostgreSQL the most connections to the
scratch database seen by a thread polling pg_stat_activity every 100 ms.

The table is printed and written as JSON to --json (bench/results/ is git-ignored).
"""
import argparse
import contextlib
import http.client
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
import psycopg2

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable

DEFAULT_SCRATCH_DATABASE = "timeslot_bench"
MAIN_USER = "bench"
REFERENCE_USER = "bench-reference"
EMPTY_USER = "bench-empty"
LOAD_USERS = 50
LOAD_SLOTS = 1000
WRK_THREADS = 2
# The seed's slots start in 2023-2025 (bench/seed.py): the last month is the window with the most before it.
WINDOWED_PATH = "/v1/export/google?from=2025-12-01&until=2026-01-01"
EXPORT_PATHS = ("/v1/export/google", "/v1/export/ical", WINDOWED_PATH)
ROW_LABELS = {WINDOWED_PATH: "POST google, last month's window"}
# The same calendar as a ZIP of the parts that Google Calendar imports whole.
ZIP_PATH, ZIP_ACCEPT = "/v1/export/google", "application/zip"
ZIP_LABEL = f"POST {ZIP_PATH} as a ZIP"
# A ZIP without a comment ends with its end of central directory record: a signature and 18 octets.
ZIP_END_SIGNATURE, ZIP_END_OCTETS = b"PK\x05\x06", 22
COMMAND_FORMATS = ("google", "ical")
CALENDAR_END = b"END:VCALENDAR\r\n"
READ_BUFFER = 256 * 1024
MB = 1024 * 1024
START_UP = "export_slots start-up (0 slots)"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the calendar export against the cost of reading its rows.",
    )
    parser.add_argument("--slots", type=int, default=100_000, help="slots of the measured user (default 100,000)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each measurement (default 5)")
    parser.add_argument(
        "--reference-slots", type=int, default=10_000, help="slots rendered by django-ical's ICalFeed (default 10,000)"
    )
    parser.add_argument("--json", type=Path, default=BENCH / "results" / "export.json", help="where to write the JSON")
    parser.add_argument("--skip-load", action="store_true", help="leave out the load run")
    parser.add_argument("--load-seconds", type=int, default=30, help="length of the load run (default 30)")
    parser.add_argument("--load-slots", type=int, default=LOAD_SLOTS, help="slots of each load user (default 1,000)")
    parser.add_argument("--load-workers", type=int, default=4, help="gunicorn gthread workers in the load run")
    parser.add_argument("--load-threads", type=int, default=4, help="threads of each of those workers")
    parser.add_argument("--seed", type=int, default=3, help="seed of the generated slots (default 3)")
    parser.add_argument(
        "--scratch-database", default=DEFAULT_SCRATCH_DATABASE,
        help="the PostgreSQL database created and dropped for the run (default timeslot_bench)",
    )
    args = parser.parse_args(argv)
    if min(args.slots, args.reference_slots, args.runs, args.load_seconds, args.load_slots) < 1:
        parser.error("sizes, runs and seconds must be positive")
    return args


def project_on_path() -> None:
    """Make the project's packages importable here.

    Run as `python bench/export.py`, this file's folder heads sys.path, where
    this module would shadow the project's `export` app: the repository root
    takes its place.
    """
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH]
    sys.path.insert(0, str(ROOT))
    # The project's and this folder's modules are imported after this, inside the functions that use them.


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that the clean-up runs."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


# The scratch database
# ------------------------------------------------------------------------------


@dataclass
class Scratch:
    url: str
    vendor: str
    server: str
    # The database's name on a PostgreSQL server.
    name: str = ""
    # psycopg2.connect() arguments for the server's own database (PostgreSQL only).
    admin: dict = field(default_factory=dict)


def postgres_admin(url: str) -> dict | None:
    """Connection arguments for the database of a PostgreSQL URL; None for none or another database."""
    config = dj_database_url.parse(url) if url else {"ENGINE": ""}
    if "postgresql" not in config["ENGINE"]:
        return None
    names = {"NAME": "dbname", "USER": "user", "PASSWORD": "password", "HOST": "host", "PORT": "port"}
    return {argument: config[key] for key, argument in names.items() if config.get(key)}


def postgres_execute(admin: dict, *statements: tuple[str, list]) -> list:
    """Run statements outside a transaction (CREATE and DROP DATABASE need that); the last one's rows."""
    connection = psycopg2.connect(**admin)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            for sql, parameters in statements:
                cursor.execute(sql, parameters)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def drop_postgres_database(admin: dict, name: str) -> None:
    postgres_execute(
        admin,
        (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        ),
        (f'DROP DATABASE IF EXISTS "{name}"', []),
    )


@contextlib.contextmanager
def scratch_database(workdir: Path, name: str):
    """A new, empty database for the benchmark, dropped on exit; never the developer's own."""
    admin = postgres_admin(os.environ.get("DATABASE_URL", ""))
    if admin is None:
        path = workdir / "bench.sqlite3"
        yield Scratch(url=f"sqlite:///{path}", vendor="sqlite", server=f"SQLite {sqlite3.sqlite_version}")
        return
    if admin.get("dbname") == name:
        raise SystemExit(f"DATABASE_URL names {name}, the scratch database; name another one.")
    drop_postgres_database(admin, name)
    (version,) = postgres_execute(admin, (f'CREATE DATABASE "{name}"', []), ("SHOW server_version", []))[0]
    url = urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{name}").geturl()
    try:
        yield Scratch(url=url, vendor="postgresql", server=f"PostgreSQL {version}", name=name, admin=admin)
    finally:
        drop_postgres_database(admin, name)


def bench_environment(database_url: str, slots: int) -> dict[str, str]:
    """What every process of the benchmark runs with: the scratch database and production settings."""
    from bench.served import production_environment

    return {
        **production_environment(database_url),
        # The export is measured, not the limits (README, Limits): no slot limit below --slots (its
        # bounded count still runs, as in production), and no rate that the load run's clients reach.
        "EXPORT_MAX_SLOTS": str(max(slots, 250_000)),
        "THROTTLE_EXPORT_RATE": "",
    }


def migrate(env: dict) -> None:
    from bench.served import run_checked

    run_checked([PYTHON, "manage.py", "migrate", "--noinput"], env)


# The data
# ------------------------------------------------------------------------------


@dataclass
class Tokens:
    main: str
    reference: str
    load: list[str]


def seed_database(args: argparse.Namespace, vendor: str) -> Tokens:
    """Create the users, their tokens and slots in this process (os.environ names the scratch database)."""
    import django

    django.setup()
    from django.db import connection, connections

    from bench.seed import user_with_slots

    def create(username, count):
        log(f"creating {count:,} slots for {username}")
        return user_with_slots(username, count, seed=args.seed)

    tokens = Tokens(
        main=create(MAIN_USER, args.slots),
        reference=create(REFERENCE_USER, args.reference_slots),
        load=[] if args.skip_load else load_users(args.seed, args.load_slots),
    )
    create(EMPTY_USER, 0)
    log("analysing")
    with connection.cursor() as cursor:
        # Settled statistics and visibility, as a database that has been up a while has.
        cursor.execute("VACUUM ANALYZE" if vendor == "postgresql" else "ANALYZE")
    connections.close_all()
    return tokens


def load_users(seed: int, slots: int) -> list[str]:
    from bench.seed import user_with_slots

    log(f"creating {LOAD_USERS} users with {slots:,} slots each")
    return [user_with_slots(f"bench-load-{number:02}", slots, seed=seed) for number in range(LOAD_USERS)]


# Measurements
# ------------------------------------------------------------------------------


def probe(name: str, username: str, env: dict) -> dict:
    """One run of bench/probes.py in a fresh process."""
    from bench.served import run_checked

    return json.loads(run_checked([PYTHON, "-m", "bench.probes", name, username], env))


def http_export(port: int, path: str, token: str, worker: int, accept: str = "text/plain") -> dict:
    """One export over HTTP: its body streamed and discarded, the worker's memory watched."""
    from bench.procfs import PeakGrowth, cpu_seconds

    headers = {"Authorization": f"Token token={token}", "Accept": accept, "Content-Type": "application/json"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    buffer = memoryview(bytearray(READ_BUFFER))
    size, tail = 0, b""
    try:
        with PeakGrowth(worker) as peak:
            start, cpu = time.perf_counter(), cpu_seconds(worker)
            connection.request("POST", path, body=b"", headers=headers)
            response = connection.getresponse()
            first_byte = time.perf_counter() - start
            while count := response.readinto(buffer):
                size += count
                tail = (tail + buffer[:count][-ZIP_END_OCTETS:].tobytes())[-ZIP_END_OCTETS:]
            seconds, cpu = time.perf_counter() - start, cpu_seconds(worker) - cpu
    finally:
        connection.close()
    complete = tail.startswith(ZIP_END_SIGNATURE) if accept == ZIP_ACCEPT else tail.endswith(CALENDAR_END)
    if response.status != 200 or not complete:
        raise RuntimeError(f"POST {path} answered {response.status} with an incomplete file ({size} bytes).")
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "first_byte": first_byte,
        "bytes": size,
        "rss_before": peak.before,
        "rss_growth": peak.bytes,
    }


def command_export(username: str, export_format: str, workdir: Path, env: dict) -> dict:
    """One `manage.py export_slots` process: its time, the file's size and the process's peak RSS."""
    output = workdir / f"export-{export_format}.ics"
    command = [PYTHON, "manage.py", "export_slots", "--user", username, "--format", export_format]
    command += ["--output", str(output)]
    with open(workdir / "command.log", "wb") as errors:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=errors, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{(workdir / 'command.log').read_text()[-4000:]}")
    size = output.stat().st_size
    with open(output, "rb") as exported:
        exported.seek(-len(CALENDAR_END), os.SEEK_END)
        complete = exported.read() == CALENDAR_END
    output.unlink()
    if not complete:
        raise RuntimeError(f"{' '.join(command)} wrote an incomplete calendar.")
    # ru_maxrss is in KiB on Linux.
    return {
        "seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime, "bytes": size,
        "max_rss": usage.ru_maxrss * 1024,
    }


# gunicorn
# ------------------------------------------------------------------------------


@contextlib.contextmanager
def gunicorn(env: dict, workdir: Path, workers: int, options: list[str]):
    """gunicorn serving the project on a free loopback port, all its workers started, until the block ends."""
    from bench.procfs import children
    from bench.served import gunicorn as served

    # No worker killed during a long export.
    options = ["--workers", str(workers), "--timeout", "600", *options]
    with served(env, options, log_folder=workdir, ready=lambda pid: len(children(pid)) == workers) as server:
        yield server


# The rounds
# ------------------------------------------------------------------------------


class DatabaseCPU:
    """`with DatabaseCPU(scratch) as database: ...`, then database.seconds is the CPU time that PostgreSQL's
    backends for the scratch database used during the block (0 on SQLite, which runs in its client).

    The backends are polled every 50 ms: a command's backend ends with it, before the block does.
    """

    QUERY = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'"

    def __init__(self, scratch: Scratch):
        self.scratch = scratch
        self.seconds = 0.0

    def __enter__(self) -> "DatabaseCPU":
        if not self.scratch.admin:
            return self
        self.connection = psycopg2.connect(**self.scratch.admin)
        self.connection.autocommit = True
        # What the backends already open have used; a backend that opens later counts from 0.
        self.baseline = self.poll()
        self.latest = dict(self.baseline)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)
        self.thread.start()
        return self

    def poll(self) -> dict[int, float]:
        from bench.procfs import cpu_seconds

        with self.connection.cursor() as cursor:
            cursor.execute(self.QUERY, [self.scratch.name])
            return {pid: cpu_seconds(pid) for (pid,) in cursor.fetchall()}

    def watch(self) -> None:
        while not self.stopped.wait(0.05):
            self.record(self.poll())

    def record(self, seen: dict[int, float]) -> None:
        for pid, cpu in seen.items():
            self.latest[pid] = max(cpu, self.latest.get(pid, 0.0))

    def __exit__(self, *exc_info) -> None:
        if not self.scratch.admin:
            return
        self.stopped.set()
        self.thread.join()
        self.record(self.poll())
        self.connection.close()
        self.seconds = sum(cpu - self.baseline.get(pid, 0.0) for pid, cpu in self.latest.items())


def with_database_cpu(scratch: Scratch, measurement) -> dict:
    """measurement()'s sample, its cpu_seconds (its client's) and the database's CPU time added up."""
    with DatabaseCPU(scratch) as database:
        sample = measurement()
    cpu = sample["cpu_seconds"] + database.seconds
    return {**sample, "database_cpu_seconds": database.seconds, "cpu_seconds": cpu}


def measure(
    args: argparse.Namespace, env: dict, tokens: Tokens, scratch: Scratch, workdir: Path
) -> dict[str, list[dict]]:
    """Every single-client measurement, in K rounds; the samples by name.

    Before them the caches are warmed: the database's by reading the rows, the
    worker's by small exports (the reference user's), so that its first
    measured export does not start from the memory a big one left behind.
    """
    from bench.procfs import children

    samples: dict[str, list[dict]] = {}
    # One sync worker, as docs/performance.md measures it (production's gunicorn.conf.py says gthread).
    with gunicorn(env, workdir, 1, ["--worker-class", "sync"]) as server:
        (worker,) = children(server.pid)
        log("warming up")
        probe("floor", MAIN_USER, env)
        probe("floor", REFERENCE_USER, env)
        for path in EXPORT_PATHS:
            http_export(server.port, path, tokens.reference, worker)
        for number in range(1, args.runs + 1):
            log(f"round {number} of {args.runs}")
            measurements = {
                "floor": lambda: probe("floor", MAIN_USER, env),
                **{
                    path: lambda path=path: http_export(server.port, path, tokens.main, worker)
                    for path in EXPORT_PATHS
                },
                "zip": lambda: http_export(server.port, ZIP_PATH, tokens.main, worker, accept=ZIP_ACCEPT),
                **{
                    f"command {name}": lambda name=name: command_export(MAIN_USER, name, workdir, env)
                    for name in COMMAND_FORMATS
                },
                "command start-up": lambda: command_export(EMPTY_USER, "google", workdir, env),
                "reference floor": lambda: probe("floor", REFERENCE_USER, env),
                "reference": lambda: probe("reference", REFERENCE_USER, env),
            }
            for name, measurement in measurements.items():
                samples.setdefault(name, []).append(with_database_cpu(scratch, measurement))
    return samples


def summarise(
    samples: list[dict], floor: float | None = None, rss_baseline: int = 0, cpu_floor: float | None = None,
    round_floors: list[float] | None = None,
) -> dict:
    seconds = [sample["seconds"] for sample in samples]
    median = statistics.median(seconds)
    cpu = [sample["cpu_seconds"] for sample in samples]
    cpu_median = statistics.median(cpu)
    cpu_floor = cpu_median if cpu_floor is None else cpu_floor
    first_bytes = [sample["first_byte"] for sample in samples if "first_byte" in sample]
    if "rss_growth" in samples[0]:
        growth = max(sample["rss_growth"] for sample in samples)
    else:
        growth = max(sample["max_rss"] for sample in samples) - rss_baseline
    floor = median if floor is None else floor
    return {
        "median_s": median,
        "min_s": min(seconds),
        "floor_s": floor,
        "ratio": median / floor,
        "first_byte_ms": statistics.median(first_bytes) * 1000 if first_bytes else None,
        "bytes": samples[0].get("bytes"),
        "rss_growth_mb": growth / MB,
        "peak_rss_mb": max(sample["max_rss"] for sample in samples) / MB if "max_rss" in samples[0] else None,
        "runs_s": seconds,
        "cpu_median_s": cpu_median,
        "cpu_ratio": cpu_median / cpu_floor,
        "cpu_runs_s": cpu,
        "database_cpu_runs_s": [sample["database_cpu_seconds"] for sample in samples],
        "round_ratios": by_round(seconds, round_floors or seconds),
    }


def by_round(seconds: list[float], floors: list[float]) -> list[float]:
    """Each run over the floor of its own round. A round's runs follow one another within seconds, so
    these ratios barely move when the machine's speed drifts between rounds, as the medians' ratio does."""
    return [run / floor for run, floor in zip(seconds, floors)]


def summarise_all(samples: dict[str, list[dict]], args: argparse.Namespace) -> dict[str, dict]:
    """The table's rows by label."""
    floor_row = summarise(samples["floor"])
    floor, cpu_floor = floor_row["median_s"], floor_row["cpu_median_s"]
    floors = floor_row["runs_s"]
    start_up = samples["command start-up"]
    baseline = min(sample["max_rss"] for sample in start_up)
    reference_floor = summarise(samples["reference floor"])
    rows = {"fetch rows only (floor)": floor_row}
    rows.update({
        ROW_LABELS.get(path, f"POST {path}"): summarise(samples[path], floor, cpu_floor=cpu_floor, round_floors=floors)
        for path in EXPORT_PATHS
    })
    rows[ZIP_LABEL] = summarise(samples["zip"], floor, cpu_floor=cpu_floor, round_floors=floors)
    start_up_row = summarise(start_up, floor, baseline, cpu_floor, floors)
    for name in COMMAND_FORMATS:
        label = "manage.py export_slots" + ("" if name == "google" else f" --format {name}")
        row = summarise(samples[f"command {name}"], floor, baseline, cpu_floor, floors)
        # The floor is timed inside a running process; so is the command, less its start-up (that of its round).
        row["export_s"] = row["median_s"] - start_up_row["median_s"]
        row["export_round_ratios"] = by_round(
            [run - start for run, start in zip(row["runs_s"], start_up_row["runs_s"])], floors
        )
        row["export_ratio"] = row["export_s"] / floor
        row["export_cpu_s"] = row["cpu_median_s"] - start_up_row["cpu_median_s"]
        row["export_cpu_ratio"] = row["export_cpu_s"] / cpu_floor
        rows[label] = row
    rows[START_UP] = start_up_row
    rows[f"django-ical ICalFeed ({args.reference_slots:,} slots)"] = {
        **summarise(
            samples["reference"], reference_floor["median_s"], cpu_floor=reference_floor["cpu_median_s"],
            round_floors=reference_floor["runs_s"],
        ),
        "floor_rss_growth_mb": reference_floor["rss_growth_mb"],
    }
    return rows


# The load run
# ------------------------------------------------------------------------------


class ConnectionPoller(threading.Thread):
    """Samples every 100 ms how many connections the scratch database has, and how many run a query."""

    QUERY = "SELECT count(*), count(*) FILTER (WHERE state = 'active') FROM pg_stat_activity WHERE datname = %s"

    def __init__(self, admin: dict, database: str):
        super().__init__(daemon=True)
        self.admin, self.database = admin, database
        self.stopped = threading.Event()
        self.max_open = self.max_active = 0
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            connection = psycopg2.connect(**self.admin)
            try:
                connection.autocommit = True
                with connection.cursor() as cursor:
                    while not self.stopped.wait(0.1):
                        cursor.execute(self.QUERY, [self.database])
                        opened, active = cursor.fetchone()
                        self.max_open, self.max_active = max(self.max_open, opened), max(self.max_active, active)
            finally:
                connection.close()
        except Exception as error:
            self.error = error

    def stop(self) -> dict:
        self.stopped.set()
        self.join()
        if self.error:
            raise self.error
        return {"max_connections": self.max_open, "max_active_connections": self.max_active}


def wrk(port: int, seconds: int, tokens_file: Path) -> dict:
    """One wrk run over the load users' exports; its summary from bench/load.lua."""
    command = [
        "wrk", "-t", str(WRK_THREADS), "-c", str(LOAD_USERS), "-d", f"{seconds}s", "--timeout", "10s",
        "-s", str(BENCH / "load.lua"), f"http://127.0.0.1:{port}{EXPORT_PATHS[0]}",
    ]
    env = {**os.environ, "BENCH_TOKENS_FILE": str(tokens_file), "BENCH_THREADS": str(WRK_THREADS)}
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    results = [line[len("RESULT "):] for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode != 0 or not results:
        raise RuntimeError(f"wrk failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}")
    return json.loads(results[-1])


def load_run(args: argparse.Namespace, env: dict, tokens: Tokens, scratch: Scratch, workdir: Path) -> dict:
    tokens_file = workdir / "tokens.txt"
    tokens_file.write_text("\n".join(tokens.load) + "\n")
    options = ["--worker-class", "gthread", "--threads", str(args.load_threads)]
    with gunicorn(env, workdir, args.load_workers, options) as server:
        log("load run: warming up")
        wrk(server.port, 3, tokens_file)
        log(f"load run: {args.load_seconds} s")
        poller = ConnectionPoller(scratch.admin, scratch.name) if scratch.admin else None
        if poller:
            poller.start()
        try:
            result = wrk(server.port, args.load_seconds, tokens_file)
        finally:
            connections = poller.stop() if poller else {"max_connections": None, "max_active_connections": None}
    socket_errors = sum(result[name] for name in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    return {
        "clients": LOAD_USERS,
        "slots_per_client": args.load_slots,
        "seconds": result["duration_us"] / 1e6,
        "server": f"gunicorn gthread, {args.load_workers} workers x {args.load_threads} threads",
        "client": f"wrk -t{WRK_THREADS} -c{LOAD_USERS}",
        "requests": result["requests"],
        "requests_per_s": result["requests"] / (result["duration_us"] / 1e6),
        "bytes_per_request": result["bytes"] / result["requests"] if result["requests"] else 0,
        "latency_p50_ms": result["latency_p50_us"] / 1000,
        "latency_p99_ms": result["latency_p99_us"] / 1000,
        "latency_max_ms": result["latency_max_us"] / 1000,
        "non_2xx": result["non_2xx"],
        "socket_errors": socket_errors,
        **connections,
    }


# Report
# ------------------------------------------------------------------------------


def git_commit() -> str:
    """The commit measured, and the tracked files changed since, if any."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    changes = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
    )
    changed = [line[3:] for line in changes.stdout.splitlines()]
    return commit.stdout.strip() + (f" + uncommitted changes to {', '.join(changed)}" if changed else "")


def cell(value, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def spread(ratios: list[float]) -> str:
    """Ratios as their median and range: 1.31 (1.12-1.52)."""
    return f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"


def table(report: dict) -> str:
    header = ("", "median s", "min s", "floor s", "ratio", "CPU s", "CPU ratio", "TTFB ms", "bytes", "RSS +MB")
    lines = [
        f"Export benchmark: {report['database']}, {report['slots']:,} slots, {report['runs']} runs, "
        f"{report['cpus']} CPUs, Python {report['python']}, commit {report['commit']}",
        "",
        f"{header[0]:<40}" + "".join(f"{title:>11}" for title in header[1:-2]) + f"{header[-2]:>14}{header[-1]:>9}"
        + f"{'ratio by round':>22}",
    ]
    for label, row in report["rows"].items():
        lines.append(
            f"{label:<40}{cell(row['median_s'], 3):>11}{cell(row['min_s'], 3):>11}{cell(row['floor_s'], 3):>11}"
            f"{cell(row['ratio'], 2):>11}{cell(row['cpu_median_s'], 3):>11}{cell(row['cpu_ratio'], 2):>11}"
            f"{cell(row['first_byte_ms'], 1):>11}{cell(row['bytes'], 0):>14}"
            f"{cell(row['rss_growth_mb'], 1):>9}{spread(row['round_ratios']):>22}"
        )
    lines += [
        "",
        "export_slots: whole processes, start-up included; RSS +MB is their peak beyond the peak of the start-up "
        f"({report['rows'][START_UP]['peak_rss_mb']:.1f} MB).",
        *(
            f"{label}, less the median start-up: {row['export_s']:.3f} s, {row['export_ratio']:.2f}x the floor; "
            f"CPU {row['export_cpu_s']:.3f} s, {row['export_cpu_ratio']:.2f}x the floor's; "
            f"by round, less its start-up: {spread(row['export_round_ratios'])}x"
            for label, row in report["rows"].items()
            if "export_ratio" in row
        ),
        "CPU s: the CPU time of the measured process (the worker, the command, the probe) and of its "
        "PostgreSQL backend, which the machine's other load leaves nearly alone.",
        "ratio by round: each run over the floor measured in the same round, seconds apart; the median and range.",
    ]
    load = report.get("load")
    if load:
        lines += [
            "",
            f"Load: {load['clients']} clients, each exporting its own {load['slots_per_client']:,}-slot calendar "
            f"for {load['seconds']:.0f} s ({load['client']}; {load['server']})",
            f"  {load['requests_per_s']:,.1f} requests/s ({load['requests']:,} requests, "
            f"{load['bytes_per_request']:,.0f} bytes each), latency p50 {load['latency_p50_ms']:,.1f} ms, "
            f"p99 {load['latency_p99_ms']:,.1f} ms, max {load['latency_max_ms']:,.1f} ms",
            f"  non-2xx {load['non_2xx']}, socket errors {load['socket_errors']}, "
            f"PostgreSQL connections: at most {cell(load['max_connections'], 0)} open, "
            f"{cell(load['max_active_connections'], 0)} running a query",
        ]
    return "\n".join(lines)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def main(argv=None) -> None:
    args = parse_args(argv)
    if not args.skip_load and shutil.which("wrk") is None:
        raise SystemExit("The load run needs wrk: apt-get install -y wrk, or pass --skip-load.")
    project_on_path()
    stop_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="timeslot-bench-") as folder, scratch_database(
        Path(folder), args.scratch_database
    ) as scratch:
        workdir = Path(folder)
        env = {**os.environ, **bench_environment(scratch.url, args.slots)}
        # This process seeds the database with Django, which reads its settings from the environment.
        os.environ.update(env)
        log(f"scratch database: {scratch.server}, migrating")
        migrate(env)
        tokens = seed_database(args, scratch.vendor)
        samples = measure(args, env, tokens, scratch, workdir)
        load = None if args.skip_load else load_run(args, env, tokens, scratch, workdir)
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "database": scratch.server,
        "slots": args.slots,
        "reference_slots": args.reference_slots,
        "runs": args.runs,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "commit": git_commit(),
        "rows": summarise_all(samples, args),
        "load": load,
    }
    print(table(report), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    log(f"written to {args.json}")


if __name__ == "__main__":
    main()
