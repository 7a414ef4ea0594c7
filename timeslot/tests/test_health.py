"""/healthz and /readyz (timeslot/health.py): probed by the instance's address over plain HTTP, as a load balancer
does, through gunicorn with the production settings; ready only with its database, its cache and its migrations,
and a failing readiness is one warning line, never a traceback."""
import logging
import os

import pytest
from django.db import connection
from rest_framework.test import APIClient

from bench import served
from conftest import REDIS_URL
from export.tests.forwarder import DatabasePlug
from export.tests.test_faults import fetch
from timeslot.health import READY_RETRY_AFTER

READY = {"status": "ready", "checks": {"database": "ok", "cache": "ok", "migrations": "ok"}}
# Never in a log line: the database password of the server's DATABASE_URL (trust authentication ignores it).
PASSWORD = "pr0be-secret-password"


def behind_a_load_balancer(database_url: str) -> dict[str, str]:
    """Production settings as the README gives them, but served over plain HTTP on loopback: ALLOWED_HOSTS names the
    public host only, the HTTPS redirect is on, the throttles count in Redis."""
    env = {**os.environ, **served.production_environment(database_url), "ALLOWED_HOSTS": "example.org",
           "REDIS_URL": REDIS_URL, "LOG_LEVEL": "INFO"}
    env.pop("SECURE_SSL_REDIRECT")
    return env


def migrate(env: dict, *target: str) -> None:
    served.run_checked([str(served.BIN / "python"), "manage.py", "migrate", "--noinput", *target], env)


def migrated_scratch(tmp_path) -> dict[str, str]:
    env = behind_a_load_balancer(f"sqlite:///{tmp_path}/scratch.sqlite3")
    migrate(env)
    return env


def problems(log: str) -> list[str]:
    """The lines of a server's log at ERROR and above, and every traceback."""
    return [line for line in log.splitlines() if any(word in line for word in (" ERROR ", " CRITICAL ", "Traceback"))]


def test_a_probe_by_the_instances_address_is_answered_and_logs_nothing_above_info(tmp_path):
    env = migrated_scratch(tmp_path)

    with served.gunicorn(env, ["--workers", "2"], log_folder=tmp_path) as server:
        address = ("127.0.0.1", server.port)  # fetch sends "Host: 127.0.0.1"
        alive = fetch(address, "GET", "/healthz")
        ready = fetch(address, "GET", "/readyz")
        head = fetch(address, "HEAD", "/readyz")
        # The exemption is the probes': any other path by the address is still refused.
        refused = fetch(address, "GET", "/v1/feeds")
    log = server.log.read_text()

    assert (alive.status, alive.headers["content-type"], alive.json()) == (200, "application/json", {"status": "ok"})
    assert (ready.status, ready.json()) == (200, READY)
    assert (head.status, head.body) == (200, b"")
    assert ready.headers["cache-control"] == "no-store"
    assert refused.status == 400
    assert problems(log) == []
    warnings = [line for line in log.splitlines() if " WARNING " in line]
    assert len(warnings) == 1 and "django.security.DisallowedHost" in warnings[0]


def test_readyz_is_503_while_migrations_are_left_to_apply_then_ready_once_they_are(tmp_path):
    env = migrated_scratch(tmp_path)
    migrate(env, "export", "0004")  # back one: the code is newer than the database

    with served.gunicorn(env, ["--workers", "1"], log_folder=tmp_path) as server:
        address = ("127.0.0.1", server.port)
        behind = fetch(address, "GET", "/readyz")
        migrate(env)
        migrated = fetch(address, "GET", "/readyz")
    log = server.log.read_text()

    assert behind.status == 503
    assert behind.headers["retry-after"] == str(READY_RETRY_AFTER)
    assert behind.json() == {
        "status": "unavailable", "failed": ["migrations"],
        "checks": {"database": "ok", "cache": "ok", "migrations": "1 unapplied"},
    }
    assert (migrated.status, migrated.json()) == (200, READY)
    assert problems(log) == []
    assert [line for line in log.splitlines() if " WARNING " in line and "Not ready" in line] != []
    assert "unapplied: export.0005_feed_fetch_counts" in log


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: a database server to cut off")
def test_readyz_is_503_while_the_database_is_away_and_healthz_does_not_care(tmp_path):
    db = connection.settings_dict
    plug = DatabasePlug(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
    plug.plug()
    env = behind_a_load_balancer(f"postgres://{db['USER']}:{PASSWORD}@127.0.0.1:{plug.port}/{db['NAME']}")
    try:
        with served.gunicorn(env, ["--workers", "1"], log_folder=tmp_path) as server:
            address = ("127.0.0.1", server.port)
            before = fetch(address, "GET", "/readyz")
            plug.pull()
            away = fetch(address, "GET", "/readyz")
            alive = fetch(address, "GET", "/healthz")
            plug.plug()
            back = fetch(address, "GET", "/readyz")
    finally:
        plug.pull()
    log = server.log.read_text()

    assert (before.status, back.status) == (200, 200)
    assert away.status == 503
    assert away.headers["retry-after"] == str(READY_RETRY_AFTER)
    assert away.json() == {
        "status": "unavailable", "failed": ["database"],
        "checks": {"database": "unreachable", "cache": "ok", "migrations": "not checked"},
    }
    assert (alive.status, alive.json()) == (200, {"status": "ok"})
    assert problems(log) == []
    not_ready = [line for line in log.splitlines() if "Not ready" in line]
    assert len(not_ready) == 1 and " WARNING " in not_ready[0] and "database OperationalError" in not_ready[0]
    assert PASSWORD not in log


@pytest.mark.django_db
def test_readyz_is_503_when_the_cache_cannot_be_reached(unreachable_cache, client, caplog):
    with caplog.at_level(logging.INFO):
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response["Retry-After"] == str(READY_RETRY_AFTER)
    assert response.json() == {
        "status": "unavailable", "failed": ["cache"],
        "checks": {"database": "ok", "cache": "unreachable", "migrations": "ok"},
    }
    assert [(record.levelname, record.exc_info) for record in caplog.records] == [("WARNING", None)]
    assert "cache ConnectionError" in caplog.records[0].getMessage()


def test_healthz_touches_no_database(client):
    # Without the django_db mark, any query raises here (pytest-django blocks the database).
    response = client.get("/healthz")

    assert response.status_code == 200


@pytest.mark.django_db
def test_the_probes_are_answered_to_an_address_the_throttles_refuse(settings, client):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "failed_authentication": "1/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    guesser = APIClient(REMOTE_ADDR="192.0.2.7")
    guesser.credentials(HTTP_AUTHORIZATION="Token token=wrong")
    assert guesser.get("/v1/feeds").status_code == 401

    assert guesser.get("/v1/feeds").status_code == 429
    assert guesser.get("/healthz").status_code == 200
    assert guesser.get("/readyz").status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_the_probes_answer_get_and_head_only(client, path):
    response = client.post(path)

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json() == {"detail": 'Method "POST" not allowed.'}
