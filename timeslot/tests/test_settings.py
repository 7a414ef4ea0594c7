"""Production settings come from the environment, and Django's deployment check passes on them."""
import json
import os
import re
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def manage(*argv: str, **environment: str) -> subprocess.CompletedProcess:
    """manage.py in its own process, with this environment and no inherited Django settings."""
    inherited = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "REDIS_URL", "SECURE_PROXY_SSL_HEADER", "NUM_PROXIES",
                 "STATIC_ROOT"}
    env = {key: value for key, value in os.environ.items() if key not in inherited}
    return subprocess.run(
        [sys.executable, "manage.py", *argv], cwd=ROOT, env={**env, **environment},
        capture_output=True, text=True, timeout=120,
    )


def random_key() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits + "!@#%^&*(-_=+)") for _ in range(50))


def readme_environment() -> dict[str, str]:
    """The settings the README's production steps write to /etc/timeslot/env, as KEY=value lines."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"^cat > /etc/timeslot/env <<ENV\n(.*?)^ENV$", text, re.S | re.M)
    assert block, "the README's production steps no longer write /etc/timeslot/env"
    return dict(line.split("=", 1) for line in block.group(1).splitlines())


@pytest.fixture(scope="module")
def production(tmp_path_factory) -> dict[str, str]:
    """The environment the README's Production steps write, with its own secret key, once collectstatic has
    run in it (into a folder of the test's)."""
    environment = readme_environment()
    assert environment["SECRET_KEY"].startswith("$(")
    environment.update(SECRET_KEY=random_key(), STATIC_ROOT=str(tmp_path_factory.mktemp("production") / "staticfiles"))
    collected = manage("collectstatic", "--noinput", **environment)
    assert collected.returncode == 0, collected.stderr
    return environment


def test_the_deployment_check_passes_on_production_settings(production):
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("left_out, warning", [
    ("REDIS_URL", "timeslot.W001"), ("NUM_PROXIES", "timeslot.W002"), ("collectstatic", "timeslot.W003"),
])
def test_the_deployment_check_fails_without_each_of_its_steps(production, tmp_path, left_out, warning):
    environment = {key: value for key, value in production.items() if key != left_out}
    if left_out == "collectstatic":
        environment["STATIC_ROOT"] = str(tmp_path / "staticfiles")

    result = manage("check", "--deploy", "--fail-level", "WARNING", **environment)

    assert result.returncode != 0
    assert re.findall(r"\((timeslot\.\w+)\)", result.stderr) == [warning]


@pytest.mark.parametrize("secret_key", [None, "django-insecure-timeslot-export-development-only-key-0123456789"])
def test_production_refuses_to_start_without_its_own_secret_key(secret_key):
    environment = {"DEBUG": "0", "ALLOWED_HOSTS": "example.org"}
    if secret_key:
        environment["SECRET_KEY"] = secret_key

    result = manage("check", **environment)

    assert result.returncode != 0
    assert "Set SECRET_KEY in the environment" in result.stderr


@pytest.mark.parametrize("log_format, starts", [("json", True), ("JSON", True), ("text", True), ("", True),
                                                ("xml", False), ("jsonl", False)])
def test_the_log_format_is_text_or_json_and_nothing_else(log_format, starts):
    result = manage("check", LOG_FORMAT=log_format)

    assert (result.returncode == 0) is starts, result.stderr
    if not starts:
        assert f"LOG_FORMAT must be text or json, not {log_format!r}." in result.stderr


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's own session settings")
def test_postgresql_connections_time_out_runaway_statements_and_idle_transactions():
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        (statement,) = cursor.fetchone()
        cursor.execute("SHOW idle_in_transaction_session_timeout")
        (idle,) = cursor.fetchone()

    assert (statement, idle) == ("30s", "1min")
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's own connection settings")
def test_sqlite_connections_wait_for_other_writers_before_they_give_up():
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        (busy,) = cursor.fetchone()

    # The driver's timeout, which is SQLite's busy timeout (15 s, SQLITE_BUSY_TIMEOUT_MS); its WAL mode and its
    # writers' BEGIN IMMEDIATE are tested on a database file, in export/tests/test_sqlite_writers.py.
    assert busy == 15000
    assert settings.DATABASES["default"]["OPTIONS"]["init_command"] == "PRAGMA journal_mode=WAL"


DATABASES_SHOWN = (
    "import json; from django.conf import settings; "
    "print(json.dumps({'databases': settings.DATABASES, 'routers': settings.DATABASE_ROUTERS}, default=str))"
)


def databases_with(**environment: str) -> dict:
    result = manage("shell", "-c", DATABASES_SHOWN, **environment)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("pooling, engine", [
    ("0", "django.db.backends.postgresql"), ("1", "timeslot.pooled_postgresql"),
])
def test_a_replica_is_a_second_alias_configured_as_the_primary_is(pooling, engine):
    shown = databases_with(DATABASE_URL="postgres://app@primary:5432/timeslot",
                           DATABASE_REPLICA_URL="postgres://app@replica:5433/timeslot",
                           DATABASE_TRANSACTION_POOLING=pooling)
    primary, replica = shown["databases"]["default"], shown["databases"]["replica"]

    assert (replica["HOST"], replica["PORT"], replica["ENGINE"]) == ("replica", 5433, engine)
    assert primary["ENGINE"] == engine
    assert {key: value for key, value in replica["OPTIONS"].items() if key != "connect_timeout"} == primary["OPTIONS"]
    assert replica["OPTIONS"]["connect_timeout"] == 3
    assert replica["CONN_MAX_AGE"] == primary["CONN_MAX_AGE"] and replica["CONN_HEALTH_CHECKS"] is True
    # The tests' replica is their test database.
    assert replica["TEST"]["MIRROR"] == "default"
    assert shown["routers"] == ["timeslot.db_routers.ReplicaRouter"]


def test_without_a_replica_there_is_one_database_and_no_router():
    shown = databases_with(DATABASE_URL="postgres://app@primary:5432/timeslot", DATABASE_REPLICA_URL="")

    assert list(shown["databases"]) == ["default"]
    assert shown["routers"] == []


def test_a_replica_needs_postgresql(tmp_path):
    result = manage("check", DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
                    DATABASE_REPLICA_URL=f"sqlite:///{tmp_path}/replica.sqlite3")

    assert result.returncode != 0
    assert "DATABASE_REPLICA_URL needs PostgreSQL" in result.stderr
