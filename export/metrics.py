"""What the service counts for Prometheus (GET /metrics, timeslot/metrics.py): exports, feed fetches, imports
and the limits' refusals.

Under gunicorn with PROMETHEUS_MULTIPROC_DIR set, each worker writes its counts to files there and a scrape
adds up every worker's, those of workers since gone too (prometheus-client's multiprocess mode); without it,
each process counts in its own memory. Counting never fails what it counts: an error is logged and dropped.
"""
import functools
import logging
from collections.abc import Mapping
from datetime import timedelta

from prometheus_client import Counter, Histogram

logger = logging.getLogger(__name__)

EXPORTS = Counter(
    "timeslot_exports", "Exports, feed fetches and imports, as the export log writes them: by kind and status.",
    ["kind", "status"],
)
EXPORT_BYTES = Counter(
    "timeslot_export_bytes", "Bytes of the exports sent (of an import: of the file received), by kind.", ["kind"],
)
EXPORT_DURATION = Histogram(
    "timeslot_export_duration_seconds", "How long an export took, from its request to its last byte, by kind.",
    ["kind"],
    # From a 304 of a feed to the largest calendar a slow client reads.
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, float("inf")),
)
FEED_FETCHES = Counter(
    "timeslot_feed_fetches", "Every answer to GET or HEAD of a feed's calendar, by status.", ["status"],
)
IMPORTS = Counter(
    "timeslot_imports", "Imports answered to a signed-in user: ok (2xx) or rejected (any other status).",
    ["outcome"],
)
IMPORTED_SLOTS = Counter(
    "timeslot_imported_slots", "The slots of the imports that went through, by what became of them.", ["result"],
)
THROTTLED = Counter(
    "timeslot_throttled", "Requests a limit refused, by its scope (THROTTLE_* rates, exports running at once).",
    ["scope"],
)

IMPORT_KIND = "import"
IMPORT_RESULTS = ("created", "updated", "unchanged", "removed")


def never_fails(count):
    """The decorated count logs and drops its error: a metric must not break the answer it counts."""

    @functools.wraps(count)
    def guarded(*args, **kwargs) -> None:
        try:
            count(*args, **kwargs)
        except Exception:
            logger.exception("Could not count %s for the metrics.", count.__name__)

    return guarded


@never_fails
def exported(*, kind: str, status: int, bytes: int, duration: timedelta,
             imported: Mapping[str, int] | None = None) -> None:
    """One export log row's worth (export/api/audit.py): an export, a feed fetch or an import, and of an import
    that went through, what became of its slots."""
    EXPORTS.labels(kind=kind, status=str(status)).inc()
    EXPORT_BYTES.labels(kind=kind).inc(bytes)
    EXPORT_DURATION.labels(kind=kind).observe(duration.total_seconds())
    if kind == IMPORT_KIND:
        IMPORTS.labels(outcome="ok" if 200 <= status < 300 else "rejected").inc()
        for result, count in (imported or {}).items():
            IMPORTED_SLOTS.labels(result=result).inc(count)


@never_fails
def feed_fetched(status: int) -> None:
    FEED_FETCHES.labels(status=str(status)).inc()


@never_fails
def refused(scope: str) -> None:
    THROTTLED.labels(scope=scope).inc()
