"""How far a streaming replica falls behind its primary while the service imports, on one machine.

    .venv/bin/python bench/replica_lag.py [--megabytes N ...] [--runs K]

A primary (initdb, fsync on) and a streaming replica of it (pg_basebackup -R) of their own on loopback
(bench/replicas.py), the service on both through gunicorn (one sync worker, production settings). Each run POSTs a
Google-style export of about N MB (bench/google_export.py) to /v1/import for a user of its own, so that every
slot is created, while a thread samples the primary's pg_stat_replication every 10 ms; once the answer is in, the
replica's replay position is polled until it has passed the primary's WAL position at the answer. Prints, by size,
medians and ranges of: the import's time, the most WAL the replica was behind during it (bytes, and the walsender's
replay_lag), and how long after the answer the replica had replayed the import: how long the importer's reads
go to the primary (timeslot/db_routers.py). Over a network, add its round trips; under load, more.
"""
import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench import served  # noqa: E402
from bench.google_export import google_export  # noqa: E402
from bench.imports import create_users  # noqa: E402
from bench.replicas import postgres_folder, redis_server, service_environment, streaming_pair  # noqa: E402

MB = 1024 * 1024


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, nargs="+", default=[1.0, 5.0])
    parser.add_argument("--runs", type=int, default=5)
    return parser.parse_args(argv)


def post_import(port: int, data: bytes, token: str) -> dict:
    import http.client

    boundary = uuid.uuid4().hex
    body = b"".join((
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"export.ics\"\r\n".encode(),
        b"Content-Type: text/calendar\r\n\r\n", data, f"\r\n--{boundary}--\r\n".encode(),
    ))
    headers = {"Authorization": f"Token token={token}", "Content-Type": f"multipart/form-data; boundary={boundary}"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1200)
    try:
        connection.request("POST", "/v1/import", body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"POST /v1/import answered {response.status}: {answer[:2000]!r}")
    return json.loads(answer)


class Sampler(threading.Thread):
    """The most the replica is behind, by the primary's pg_stat_replication, until stopped."""

    QUERY = ("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn),"
             " coalesce(extract(epoch FROM replay_lag), 0) FROM pg_stat_replication")

    def __init__(self, primary):
        super().__init__(daemon=True)
        self.client = primary.connect()
        self.done = threading.Event()
        self.bytes_behind, self.replay_lag = 0, 0.0

    def run(self) -> None:
        with self.client.cursor() as cursor:
            while not self.done.is_set():
                cursor.execute(self.QUERY)
                for behind, lag in cursor.fetchall():
                    self.bytes_behind = max(self.bytes_behind, int(behind or 0))
                    self.replay_lag = max(self.replay_lag, float(lag))
                time.sleep(0.01)

    def stop(self) -> None:
        self.done.set()
        self.join()
        self.client.close()


def replayed_after(pair, position: str) -> float:
    """Seconds from now until the replica has replayed position, polled every millisecond."""
    client = pair.replica.connect()
    start = time.perf_counter()
    try:
        with client.cursor() as cursor:
            while True:
                cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [position])
                if cursor.fetchone()[0]:
                    return time.perf_counter() - start
                if time.perf_counter() - start > 120:
                    raise TimeoutError("the replica did not replay the import within 120 s")
                time.sleep(0.001)
    finally:
        client.close()


def spread(values: list[float], digits: int = 3) -> str:
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main(argv=None) -> None:
    args = parse_args(argv)
    with postgres_folder() as folder, streaming_pair(folder, durable=True) as pair, redis_server(folder) as redis:
        env = service_environment(pair, redis, IMPORT_MAX_BYTES=str(64 * MB), IMPORT_MAX_RECORDS="1000000",
                                  IMPORT_MAX_OCCURRENCES="10000000", THROTTLE_EXPORT_RATE="")
        names = [f"importer{size}-{run}" for size in range(len(args.megabytes)) for run in range(args.runs)]
        tokens = create_users(env, names)
        with served.gunicorn(env, ["--workers", "1"]) as server:
            for index, megabytes in enumerate(args.megabytes):
                data, events, _ = google_export(megabytes)
                rounds = []
                for run in range(args.runs):
                    pair.caught_up()
                    sampler = Sampler(pair.primary)
                    sampler.start()
                    start = time.perf_counter()
                    try:
                        answer = post_import(server.port, data, tokens[f"importer{index}-{run}"])
                        seconds = time.perf_counter() - start
                        position = pair.position()
                    finally:
                        sampler.stop()
                    rounds.append({"seconds": seconds, "bytes_behind": sampler.bytes_behind,
                                   "replay_lag": sampler.replay_lag, "replayed_after": replayed_after(pair, position),
                                   "created": answer["created"]})
                print(f"{megabytes:g} MB, {events:,} events ({rounds[0]['created']:,} slots), {args.runs} runs:")
                print(f"  import: {spread([r['seconds'] for r in rounds], 2)} s")
                print(f"  most WAL behind during it: {spread([r['bytes_behind'] / 1024 for r in rounds], 0)} KiB, "
                      f"replay_lag {spread([r['replay_lag'] * 1000 for r in rounds], 1)} ms")
                print(f"  replayed after the answer: {spread([r['replayed_after'] * 1000 for r in rounds], 2)} ms",
                      flush=True)


if __name__ == "__main__":
    main()
