"""Feed load benchmark: what a subscribed calendar app's poll costs, beside a full fetch and a 404.

    .venv/bin/python bench/feeds.py [--small] [--slots N] [--seconds S] [--rounds R] [--connections C]
                                    [--json PATH] [--scratch-database NAME] [--redis-url URL]

A scratch database as bench/export.py makes one (`timeslot_bench_feeds` on the PostgreSQL server of
DATABASE_URL, else an SQLite file in a temporary folder; dropped at the end), holding one user with N slots
(bench/seed.py, 1,000 by default) and one feed of them, every slot. The shared cache is the Redis database of
--redis-url, the benchmark's own: it is emptied at the start and at the end.

The project is served by gunicorn as production runs it (gunicorn.conf.py, gthread, 2 workers x 4 threads,
DEBUG=0), twice at once: with the feed body cache (FEED_BODY_CACHED_MAX_BYTES at its default) and without it (0).
The limits stay on, at rates no run reaches, so that their counting is part of what is measured. wrk (Debian's
package, bench/feed_load.lua) then fetches for S seconds with C connections, each case after a second's warm-up,
the cases taking turns for R rounds (a row is the median round's rate; a ratio, of two medians):

- (a) full: GET of the feed, from the server without the body cache: its calendar written each time (the
  version is cached; the slots are read and written out);
- (b) cached: GET of the same unchanged feed from the server with it: the bytes kept by its ETag;
- (c) 304: GET with If-None-Match: the feed's ETag, as a subscribed app polls;
- (d) 404, wrong secret: GET of a feed URL whose secret opens nothing (the feed lookup, and the failed
  authentication counted against the address); and 404, unknown path: /v1/nothing, which no view answers.

Then the database writes per 1,000 polls: the rows PostgreSQL's statistics say were inserted, updated or
deleted in the scratch database (pg_stat_database's tup_inserted + tup_updated + tup_deleted) over a run of
304s against a gunicorn started for it and stopped before the second reading (a backend reports its counts
when it ends); on SQLite, the export log rows and the changes of the feed row's counts seen before and after.
And the cache round trips of each answer, counted in this process through Django's test client against the
same Redis (every command or pipeline redis-py sends).

Targets: 304 >= 10x (a); 304 >= (d, wrong secret); (b) >= 5x (a); <= 20 writes per 1,000 polls. A target
missed exits 1, unless --small (CI runs that to prove the benchmark runs; it only reports).
"""
import argparse
import contextlib
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

DEFAULT_SCRATCH_DATABASE = "timeslot_bench_feeds"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"
FEED_USER = "bench-feed"
WORKERS, THREADS, WRK_THREADS = 2, 4, 2
# No rate any run reaches, but every one counted as in production.
UNREACHED_RATE = "100000000/min"
UNKNOWN_PATH = "/v1/nothing"
# More than any answer without a calendar sends (a 304's head, a 404's), less than any calendar of the run.
HEAD_BYTES = 4096
CASES = ("full", "cached", "not_modified", "wrong_secret", "unknown_path")
LABELS = {
    "full": "(a) full GET, body cache off",
    "cached": "(b) full GET, from the body cache",
    "not_modified": "(c) 304, If-None-Match",
    "wrong_secret": "(d) 404, wrong feed secret",
    "unknown_path": "(d') 404, unknown path",
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a quick run that only reports (CI)")
    parser.add_argument("--slots", type=int, default=None, help="slots of the feed (default 1,000; --small 100)")
    parser.add_argument("--seconds", type=int, default=None,
                        help="length of each case in each round (default 3; --small 2)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds of every case, one after the other (default 5; --small 1)")
    parser.add_argument("--connections", type=int, default=16, help="wrk's connections (default 16)")
    parser.add_argument("--seed", type=int, default=5, help="seed of the generated slots (default 5)")
    parser.add_argument("--json", type=Path, default=BENCH / "results" / "feeds.json", help="where to write the JSON")
    parser.add_argument(
        "--scratch-database", default=DEFAULT_SCRATCH_DATABASE,
        help="the PostgreSQL database created and dropped for the run (default timeslot_bench_feeds)",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        help="the Redis database of the benchmark's own, emptied at its start and end (default BENCH_REDIS_URL, "
        f"else {DEFAULT_REDIS_URL})",
    )
    args = parser.parse_args(argv)
    args.slots = args.slots if args.slots is not None else (100 if args.small else 1000)
    args.seconds = args.seconds if args.seconds is not None else (2 if args.small else 3)
    args.rounds = args.rounds if args.rounds is not None else (1 if args.small else 5)
    if min(args.slots, args.seconds, args.connections, args.rounds) < 1:
        parser.error("the slots, seconds and connections must be positive")
    return args


def project_on_path() -> None:
    """Run as `python bench/feeds.py`, this folder heads sys.path, where bench/export.py would shadow the
    project's `export` app: the repository root takes its place."""
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH]
    sys.path.insert(0, str(ROOT))


def log(message: str) -> None:
    print(f"[feeds] {message}", file=sys.stderr, flush=True)


def environment(database_url: str, redis_url: str) -> dict[str, str]:
    from bench.served import production_environment

    return {
        **os.environ,
        **production_environment(database_url),
        "REDIS_URL": redis_url,
        "THROTTLE_FAILED_AUTH_RATE": UNREACHED_RATE,
        "THROTTLE_EXPORT_RATE": UNREACHED_RATE,
        "THROTTLE_FEED_FETCH_RATE": UNREACHED_RATE,
        # One owner's feed fetched by every connection at once: (a)'s renders are measured, not refused.
        "EXPORT_MAX_CONCURRENT": "1000",
    }


def empty_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def seed(args: argparse.Namespace, vendor: str) -> str:
    """The feed user, their slots and one feed of them (os.environ names the scratch database); its secret."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection, connections

    from bench.seed import user_with_slots
    from export.feeds import create_feed

    log(f"creating {args.slots:,} slots and a feed of them")
    user_with_slots(FEED_USER, args.slots, seed=args.seed)
    _, secret = create_feed(owner=get_user_model().objects.get(username=FEED_USER), group=None)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if vendor == "postgresql" else "ANALYZE")
    connections.close_all()
    return secret


@contextlib.contextmanager
def served(env: dict, workdir: Path, **settings: str):
    from bench.procfs import children
    from bench.served import gunicorn

    options = ["--workers", str(WORKERS), "--worker-class", "gthread", "--threads", str(THREADS)]
    with gunicorn({**env, **settings}, options, log_folder=workdir,
                  ready=lambda pid: len(children(pid)) == WORKERS) as server:
        # Each worker's first requests import and build what the later ones reuse (seconds on a busy machine).
        wrk(server.url + UNKNOWN_PATH, 3, WORKERS * THREADS, 404, {})
        yield server


def wrk(url: str, seconds: int, connections: int, expect: int | None, headers: dict[str, str]) -> dict:
    """wrk's run; expect: the status each answer is checked for (None: none checked, only counted)."""
    command = ["wrk", "-t", str(WRK_THREADS), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
               "-s", str(BENCH / "feed_load.lua")]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    completed = subprocess.run(
        [*command, url], env={**os.environ, "BENCH_EXPECT": "" if expect is None else str(expect)},
        capture_output=True, text=True,
        timeout=seconds + 60,
    )
    results = [line[len("RESULT "):] for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode != 0 or not results:
        raise RuntimeError(f"wrk failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}")
    result = json.loads(results[-1])
    seconds_run = result["duration_us"] / 1e6
    return {
        "requests": result["requests"],
        "requests_per_s": result["requests"] / seconds_run,
        "bytes_per_request": result["bytes"] / result["requests"] if result["requests"] else 0,
        "latency_p50_ms": result["latency_p50_us"] / 1000,
        "latency_p99_ms": result["latency_p99_us"] / 1000,
        "unexpected_status": result["unexpected"],
        "status_errors": result["status_errors"],
        "socket_errors": sum(result[name] for name in ("connect_errors", "read_errors", "write_errors", "timeouts")),
    }


def measured(server, path: str, seconds: int, connections: int, expect: int, headers=None) -> dict:
    """A second's warm-up, each answer's status checked, then the run, with the CPU time its workers spent on it
    (steadier than the rate on a machine that runs other work). The run hands no answer to wrk's Lua: its
    answers are checked by their count of bytes, which tells a 304 from a calendar, and by wrk's count of
    statuses past 399 where none is expected."""
    from bench.procfs import children, cpu_seconds

    checked = wrk(server.url + path, 1, connections, expect, headers or {})
    workers = children(server.pid)
    before = sum(map(cpu_seconds, workers))
    result = wrk(server.url + path, seconds, connections, None, headers or {})
    result["unexpected_status"] = checked["unexpected_status"] + (result["status_errors"] if expect < 400 else 0)
    # Of the order of a calendar, or of a head alone (a 304, a 404's few bytes), as in the checked warm-up; not
    # closer: the bytes of the answers cut off as a run ends count too.
    if (result["bytes_per_request"] > HEAD_BYTES) != (checked["bytes_per_request"] > HEAD_BYTES):
        raise RuntimeError(f"{path}: {result['bytes_per_request']:,.0f} bytes an answer in the run, "
                           f"{checked['bytes_per_request']:,.0f} in its checked warm-up")
    result["worker_cpu_ms_per_request"] = (sum(map(cpu_seconds, workers)) - before) * 1000 / max(result["requests"], 1)
    return result


def combined(rounds: list[dict]) -> dict:
    """One case's rounds as one row: the round of the median rate (its latencies), the rates of all, and the
    requests and CPU of all together."""
    middle = sorted(rounds, key=lambda row: row["requests_per_s"])[len(rounds) // 2]
    requests = sum(row["requests"] for row in rounds)
    cpu_ms = sum(row["worker_cpu_ms_per_request"] * row["requests"] for row in rounds)
    return {
        **middle,
        "requests": requests,
        "rounds_requests_per_s": [row["requests_per_s"] for row in rounds],
        "worker_cpu_ms_per_request": cpu_ms / max(requests, 1),
        "unexpected_status": sum(row["unexpected_status"] for row in rounds),
        "socket_errors": sum(row["socket_errors"] for row in rounds),
    }


def etag_of(base: str, path: str) -> str:
    import urllib.request

    with urllib.request.urlopen(base + path) as response:
        response.read()
        return response.headers["ETag"]


# Database writes
# ------------------------------------------------------------------------------


class Writes:
    """Rows written in the scratch database between two readings: PostgreSQL's statistics, or on SQLite the
    export log rows and the changes of the feed row's counts."""

    def __init__(self, scratch, database_path: Path | None):
        self.scratch, self.path = scratch, database_path

    def reading(self) -> dict:
        if self.scratch.admin:
            from bench.export import postgres_execute

            (row,) = postgres_execute(
                self.scratch.admin,
                ("SELECT tup_inserted + tup_updated + tup_deleted, xact_commit FROM pg_stat_database "
                 "WHERE datname = %s", [self.scratch.name]),
            )
            return {"rows": row[0], "commits": row[1]}
        connection = sqlite3.connect(self.path)
        try:
            (logged,), = connection.execute("SELECT count(*) FROM export_exportlog")
            feed = connection.execute(
                "SELECT fetches_sent, fetches_not_modified, last_fetched_at FROM export_calendarfeed").fetchone()
        finally:
            connection.close()
        return {"logged": logged, "feed": feed}

    def between(self, before: dict, after: dict) -> dict:
        if "rows" in before:
            return {"rows": after["rows"] - before["rows"], "commits": after["commits"] - before["commits"],
                    "method": "pg_stat_database tup_inserted + tup_updated + tup_deleted"}
        return {"rows": after["logged"] - before["logged"] + (after["feed"] != before["feed"]), "commits": None,
                "method": "export log rows + 1 if the feed row's counts changed (SQLite)"}


# Cache round trips
# ------------------------------------------------------------------------------


def round_trips(secret: str, etag: str) -> dict[str, int]:
    """The cache round trips of each kind of answer, in this process through Django's test client (a warm-up
    answer first): each command or pipeline redis-py sends."""
    from django.test import Client
    from redis.connection import AbstractConnection

    sent = [0]
    original = AbstractConnection.send_packed_command

    def counted(self, *args, **kwargs):
        sent[0] += 1
        return original(self, *args, **kwargs)

    client = Client(HTTP_HOST="127.0.0.1")
    path = f"/v1/feeds/{secret}.ics"
    cases = {
        "cached": (path, {}), "not_modified": (path, {"If-None-Match": etag}),
        "wrong_secret": (f"/v1/feeds/{'x' * 43}.ics", {}), "unknown_path": (UNKNOWN_PATH, {}),
    }
    trips = {}
    AbstractConnection.send_packed_command = counted
    try:
        for name, (case_path, headers) in cases.items():
            b"".join(client.get(case_path, headers=headers))
            sent[0] = 0
            b"".join(client.get(case_path, headers=headers))
            trips[name] = sent[0]
    finally:
        AbstractConnection.send_packed_command = original
    return trips


# Report
# ------------------------------------------------------------------------------


def targets(rows: dict, writes_per_thousand: float) -> list[tuple[str, float, float, bool]]:
    """(what, measured, target, met)."""
    rate = {name: row["requests_per_s"] for name, row in rows.items()}
    checks = [
        ("304 / (a) full", rate["not_modified"] / rate["full"], 10.0),
        ("304 / (d) 404 wrong secret", rate["not_modified"] / rate["wrong_secret"], 1.0),
        ("(b) cached / (a) full", rate["cached"] / rate["full"], 5.0),
    ]
    met = [(name, value, target, value >= target) for name, value, target in checks]
    met.append(("writes per 1,000 polls (at most)", writes_per_thousand, 20.0, writes_per_thousand <= 20.0))
    return met


def table(report: dict) -> str:
    lines = [
        f"Feed load: {report['database']}, one {report['slots']:,}-slot feed ({report['feed_bytes']:,} bytes), "
        f"{report['server']}, {report['client']}, {report['rounds']} rounds of {report['seconds']} s a case, "
        f"{report['cpus']} CPUs, "
        f"commit {report['commit']}",
        "",
        f"{'':<36}{'requests/s':>12}{'range':>18}{'requests':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms':>9}"
        f"{'bytes':>10}{'cache trips':>13}{'unexpected':>12}",
    ]
    for name, row in report["rows"].items():
        trips = report["round_trips"].get(name, "-")
        spread = f"{min(row['rounds_requests_per_s']):,.1f}-{max(row['rounds_requests_per_s']):,.1f}"
        lines.append(
            f"{LABELS[name]:<36}{row['requests_per_s']:>12,.1f}{spread:>18}{row['requests']:>10,}"
            f"{row['latency_p50_ms']:>9.2f}"
            f"{row['latency_p99_ms']:>9.2f}{row['worker_cpu_ms_per_request']:>9.2f}{row['bytes_per_request']:>10,.0f}"
            f"{trips:>13}"
            f"{row['unexpected_status'] + row['socket_errors']:>12}"
        )
    writes = report["writes"]
    lines += [
        "requests/s: the median round's, beside the range of the rounds; CPU ms: the gunicorn workers' CPU time (user "
        "and system) per request, of all rounds.",
        "",
        f"Writes: {writes['rows']} rows over {writes['polls']:,} polls (304), {writes['per_thousand']:.2f} per 1,000 "
        f"({writes['method']}; {writes['commits'] if writes['commits'] is not None else '-'} commits, reads "
        "included)",
        "",
        *(f"{'met   ' if met else 'MISSED'} {name}: {value:.2f} (target {target:g})"
          for name, value, target, met in report["targets"]),
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("The feed load run needs wrk: apt-get install -y wrk.")
    project_on_path()
    from bench.export import git_commit, scratch_database, stop_on_sigterm
    from bench.served import run_checked

    stop_on_sigterm()
    empty_redis(args.redis_url)
    try:
        with tempfile.TemporaryDirectory(prefix="timeslot-feeds-") as folder, scratch_database(
            Path(folder), args.scratch_database
        ) as scratch:
            workdir = Path(folder)
            env = environment(scratch.url, args.redis_url)
            os.environ.update(env)
            log(f"scratch database: {scratch.server}, migrating")
            run_checked([sys.executable, "manage.py", "migrate", "--noinput"], env)
            secret = seed(args, scratch.vendor)
            path, wrong = f"/v1/feeds/{secret}.ics", f"/v1/feeds/{'x' * len(secret)}.ics"
            measure = {"seconds": args.seconds, "connections": args.connections}
            rounds = {case: [] for case in CASES}
            # Both servers at once, the cases taking turns round after round: what else the machine does
            # meanwhile falls on every case alike, and a ratio compares rates measured moments apart.
            with served(env, workdir, FEED_BODY_CACHED_MAX_BYTES="0") as rendering, served(env, workdir) as server:
                etag = etag_of(server.url, path)
                cases = {
                    "full": lambda: measured(rendering, path, expect=200, **measure),
                    "cached": lambda: measured(server, path, expect=200, **measure),
                    "not_modified": lambda: measured(server, path, expect=304, headers={"If-None-Match": etag},
                                                     **measure),
                    "wrong_secret": lambda: measured(server, wrong, expect=404, **measure),
                    "unknown_path": lambda: measured(server, UNKNOWN_PATH, expect=404, **measure),
                }
                for number in range(1, args.rounds + 1):
                    log(f"round {number} of {args.rounds}: {', '.join(LABELS[case] for case in CASES)}")
                    for case in CASES:
                        rounds[case].append(cases[case]())
            rows = {case: combined(rounds[case]) for case in CASES}
            log("writes of a run of polls")
            writes = Writes(scratch, workdir / "bench.sqlite3")
            before = writes.reading()
            with served(env, workdir) as server:
                polls = wrk(server.url + path, args.seconds, args.connections, 304, {"If-None-Match": etag})
            # The backends have ended with the workers and reported their counts; a moment for them to land.
            time.sleep(1)
            written = writes.between(before, writes.reading())
            written.update(polls=polls["requests"], per_thousand=written["rows"] * 1000 / max(polls["requests"], 1))
            log("cache round trips")
            trips = round_trips(secret, etag)
    finally:
        empty_redis(args.redis_url)
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "database": scratch.server,
        "slots": args.slots,
        "feed_bytes": round(rows["full"]["bytes_per_request"]),
        "seconds": args.seconds,
        "rounds": args.rounds,
        "server": f"gunicorn gthread, {WORKERS} workers x {THREADS} threads",
        "client": f"wrk -t{WRK_THREADS} -c{args.connections}",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "commit": git_commit(),
        "rows": rows,
        "round_trips": trips,
        "writes": written,
    }
    report["targets"] = targets(rows, written["per_thousand"])
    print(table(report), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    log(f"written to {args.json}")
    missed = [name for name, _, _, met in report["targets"] if not met]
    if missed and not args.small:
        log(f"missed: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
