import os
import socket
import uuid
from pathlib import Path

import pytest
from django.core.cache import caches
from django.db import connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from export import feed_bodies
from slots.tests.factories import TokenFactory, UserFactory


@pytest.fixture
def user(db):
    return UserFactory(username="nora")


@pytest.fixture
def token(user):
    return TokenFactory(user=user)


@pytest.fixture
def client_for(db):
    """An API client that sends a user's token in the existing clients' legacy form."""

    def make(user):
        token, _ = Token.objects.get_or_create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token token={token.key}")
        return client

    return make


@pytest.fixture
def api(client_for, user):
    return client_for(user)


@pytest.fixture
def staff_client(client):
    """Django's test client, logged in as a superuser of the admin."""
    client.force_login(UserFactory(username="operator", is_staff=True, is_superuser=True))
    return client


@pytest.fixture(autouse=True)
def fresh_cache(settings):
    """Each test starts with empty throttle counters, in local memory even when REDIS_URL is set
    (export/tests/test_abuse.py runs the throttles on Redis too, under keys of its own)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}}
    caches["default"].clear()
    # The feeds' calendars each process keeps beside the cache (export/feed_bodies.py).
    feed_bodies.in_process.clear()


# .ci/run starts Redis here; a database number of the tests' own, and a key prefix per test on top.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/7")


@pytest.fixture(params=["local memory", "Redis"])
def shared_cache(request, settings):
    """Runs a test on both caches the service runs on: each process's memory, and Redis."""
    if request.param == "local memory":
        yield
        return
    prefix = f"test-shared-cache-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                    "KEY_PREFIX": prefix},
    }
    redis = caches["default"]._cache.get_client(write=True)
    redis.ping()  # Fails the test if Redis is not there: .ci/run starts it.
    yield
    for key in redis.scan_iter(f"{prefix}:*"):
        redis.delete(key)


@pytest.fixture
def unreachable_cache(settings):
    """The cache is a Redis that nothing answers for: a loopback port just closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": f"redis://127.0.0.1:{closed_port}/0",
        "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
    }}


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2 costs half a second a user by design; the tests do not test it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# Debian's chromium, started as this machine's closed network needs: without the
# background-networking flags its connections are refused.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Screenshots of every screen a browser test visits (git-ignored).
SCREENSHOTS = Path(__file__).resolve().parent / "artifacts" / "screenshots"


@pytest.fixture
def browser_page(live_server, chromium_page):
    """A page of a fresh headless chromium profile, downloads accepted, for the test's live server."""
    return chromium_page


@pytest.fixture
def chromium_page(tmp_path, monkeypatch):
    """A page of a fresh headless chromium profile, downloads accepted, for any server (gunicorn too)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (the browser tests need it).")
    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, accept_downloads=True,
        )
        try:
            yield context.new_page()
        finally:
            context.close()
            # While Playwright's event loop runs in this thread, Django keeps the database connections the
            # test opens apart from the thread's own (asgiref's Local, per context), and nothing else closes
            # them: left open, they keep PostgreSQL from dropping the test database at the end.
            connections.close_all()


@pytest.fixture
def screenshot(request):
    """Saves the page as artifacts/screenshots/<test>-<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
