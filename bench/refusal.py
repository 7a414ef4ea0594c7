"""How fast hostile Authorization headers are refused over real HTTP through gunicorn.

    .venv/bin/python bench/refusal.py [--requests N]

For each setup below and each header, starts gunicorn afresh (2 gthread workers x 4 threads,
DEBUG=0, a free loopback port, an empty SQLite database: no refusal reads it), warms its workers
with 20 requests without a token (a 401 that counts as no failure), then sends N POST
/v1/export/google requests with the header, one at a time, each on a new connection, timing from
the connection to the last byte of the answer:

- gunicorn as configured by default: a header field over 8,190 bytes is refused by gunicorn (400).
- --limit-request-field_size 70000 and THROTTLE_FAILED_AUTH_RATE empty: every header reaches the
  token authentication, which refuses it (401).
- the same with the default rate (20 failures a minute): the 21st request on is a 429.

Prints the status codes seen and the median, 99th percentile and maximum in milliseconds.
"""
import argparse
import http.client
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Run as `python bench/refusal.py`: the root on the path, for bench.served.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.served import gunicorn, production_environment  # noqa: E402

HEADERS = {
    "64 KB token": "Token " + "a" * 65536,
    "64 KB of separators": ', ; = " ' * 8192,
    "short malformed token (baseline)": "Token token=not-a-key!",
}


def refuse(port: int, authorization: str) -> tuple[int, float]:
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", "/v1/export/google", body=b"", headers={
            "Authorization": authorization, "Accept": "text/plain", "Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    return response.status, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="timeslot-refusal-") as folder:
        base = {**os.environ, **production_environment(f"sqlite:///{folder}/empty.sqlite3"), "LOG_LEVEL": "ERROR"}
        base.pop("REDIS_URL", None)
        setups = [
            ("gunicorn's default header limit", {}, []),
            ("header limit 70,000, no throttle", {"THROTTLE_FAILED_AUTH_RATE": ""},
             ["--limit-request-field_size", "70000"]),
            ("header limit 70,000, default throttle", {}, ["--limit-request-field_size", "70000"]),
        ]
        print(f"{'setup':40} {'header':34} {'statuses':>18} {'median':>8} {'p99':>8} {'max':>8}  (ms)")
        for name, environment, options in setups:
            for header_name, header in HEADERS.items():
                workers = ["--workers", "2", "--worker-class", "gthread", "--threads", "4"]
                with gunicorn({**base, **environment}, [*workers, *options]) as server:
                    port = server.port
                    # The first request of a worker imports the views: not what is measured.
                    for _ in range(20):
                        refuse(port, "")
                    results = [refuse(port, header) for _ in range(args.requests)]
                    times = sorted(seconds * 1000 for _, seconds in results)
                    statuses = "/".join(f"{status}x{count}" for status, count in sorted(
                        {status: sum(1 for s, _ in results if s == status) for status, _ in results}.items()))
                    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
                    print(f"{name:40} {header_name:34} {statuses:>18} {statistics.median(times):8.2f} "
                          f"{p99:8.2f} {times[-1]:8.2f}")


if __name__ == "__main__":
    main()
