"""The probes of a load balancer or an orchestrator: `GET /healthz`, the process answers (it touches nothing
else), and `GET /readyz`, it can serve (its database answers, its cache takes a write, no migration is left
to apply). With a read replica, /readyz also says whether it answers; without it the instance is still ready,
"degraded": its reads go to the primary.

They are answered before every other middleware: a probe comes by the instance's address, which
ALLOWED_HOSTS does not name, over plain HTTP, which the HTTPS redirect would turn away, and no throttle
counts it. A failing readiness is a 503 in JSON naming its checks, logged in one warning line; never a
traceback: the cause is outside the code, and the probe repeats every few seconds.
"""
import logging

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.utils.log import log_response

from timeslot.db_routers import REPLICA
from timeslot.db_routers import configured as replica_configured
from timeslot.exceptions import api_json

logger = logging.getLogger(__name__)

# Seconds a client of /readyz is asked to wait: about one probe interval of a load balancer.
READY_RETRY_AFTER = 10
CACHE_KEY = "timeslot:readyz"
# The most of a driver's message a log line keeps (its first line: what failed, and where; never a password).
REASON_CHARACTERS = 200


class NotReady(Exception):
    """A check that failed: its answer in the body (a word or two), and why, for the log."""

    def __init__(self, answer: str, reason: str):
        super().__init__(reason)
        self.answer = answer


def reason(exc: Exception) -> str:
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line[:REASON_CHARACTERS]}"


def answering(alias: str, query: str) -> None:
    """The database of alias answers the query; NotReady if it cannot be reached."""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(query)
    except Exception as exc:
        raise NotReady("unreachable", reason(exc)) from None


def check_database() -> None:
    answering(DEFAULT_DB_ALIAS, "SELECT 1")


def check_cache() -> None:
    """A write and its read: the throttles write to the cache on every request they count."""
    try:
        cache.set(CACHE_KEY, "ok", timeout=READY_RETRY_AFTER)
        answered = cache.get(CACHE_KEY)
    except Exception as exc:
        raise NotReady("unreachable", reason(exc)) from None
    if answered != "ok":
        raise NotReady("lost a write", f"read back {answered!r}")


def check_migrations() -> None:
    """The migrations of the code running here that the database has not had (new code, `migrate` not yet run)."""
    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        raise NotReady("unknown", reason(exc)) from None
    if plan:
        names = ", ".join(f"{migration.app_label}.{migration.name}" for migration, _ in plan)
        raise NotReady(f"{len(plan)} unapplied", f"unapplied: {names}")


def check_replica() -> None:
    """The read replica (DATABASE_REPLICA_URL) answers, as a replica; only checked when there is one."""
    answering(REPLICA, "SELECT pg_last_wal_replay_lsn()")


# In order; a check whose first depends on one that failed is not run.
CHECKS = {"database": check_database, "cache": check_cache, "migrations": check_migrations}
NEEDS = {"migrations": "database"}
# Checks that fail without making the instance unready: without its replica, it reads from the primary
# (timeslot/db_routers.py), and an unready instance for a replica shared by all would take every instance
# out of the load balancer for what the primary can serve.
DEGRADING = {"replica": check_replica}


def checks() -> dict:
    return {**CHECKS, **(DEGRADING if replica_configured() else {})}


def ready(body: dict) -> JsonResponse:
    """A probe's 200, written as the error bodies are; the request's id is in its header (an error body also
    carries it, for a client to quote)."""
    return JsonResponse(body, json_dumps_params={"separators": (",", ":")})


def healthz(request):
    return ready({"status": "ok"})


def readyz(request):
    answers, reasons = {}, []
    for name, check in checks().items():
        if answers.get(NEEDS.get(name), "ok") != "ok":
            answers[name] = "not checked"
            continue
        try:
            check()
            answers[name] = "ok"
        except NotReady as failed:
            answers[name] = failed.answer
            reasons.append(f"{name} {failed}")
    failed = [name for name, answer in answers.items() if answer not in ("ok", "not checked")]
    degraded = [name for name in failed if name in DEGRADING]
    failed = [name for name in failed if name not in DEGRADING]
    if not failed:
        if degraded:
            logger.warning("Ready, degraded: %s", "; ".join(reasons))
            return ready({"status": "ready", "degraded": degraded, "checks": answers})
        return ready({"status": "ready", "checks": answers})
    response = api_json({"status": "unavailable", "failed": failed, "checks": answers}, status=503)
    response["Retry-After"] = str(READY_RETRY_AFTER)
    # Django's handler logs a 5xx it was not told of at ERROR; this is the probe's one line.
    log_response("Not ready: %s", "; ".join(reasons), response=response, request=request, logger=logger,
                 level="warning")
    return response


PROBES = {"/healthz": healthz, "/readyz": readyz}


class ProbeMiddleware:
    """/healthz and /readyz, first in MIDDLEWARE: nothing after it reads the Host, redirects or counts them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info)
        if probe is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = api_json({"detail": f'Method "{request.method}" not allowed.'}, status=405)
            response["Allow"] = "GET, HEAD"
            return response
        response = probe(request)
        response["Cache-Control"] = "no-store"
        if request.method == "HEAD":
            # The GET's headers without its body, which gunicorn would drop with a warning line a probe.
            response.content = b""
        return response
