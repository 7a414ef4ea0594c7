"""The static files served by the service itself, as in production: gunicorn alone (DEBUG=0, no proxy) after
collectstatic, in a real browser (Debian's chromium driven by Playwright). Every request of each page must
succeed, the admin's stylesheet must apply, and Swagger UI must draw the API's operations."""
import os
import secrets

import pytest

from bench import served
from export.tests.test_docs_browser import ENDPOINTS

PASSWORD = secrets.token_urlsafe(16)
OPERATOR = f"""
from django.contrib.auth import get_user_model
get_user_model().objects.create_superuser("operator", "operator@example.org", {PASSWORD!r})
"""
# The admin's base.css paints the header in its --header-bg (Django 5.2: #417690, light scheme); without the
# stylesheet it is transparent.
HEADER_BACKGROUND = "rgb(65, 118, 144)"


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    """gunicorn with the production settings on a scratch SQLite database with an operator, its static files
    collected into a folder of the test's; the server, and what it wrote to its log."""
    folder = tmp_path_factory.mktemp("static-files")
    env = {**os.environ, **served.production_environment(f"sqlite:///{folder}/scratch.sqlite3")}
    env.pop("REDIS_URL", None)
    env = served.with_static_files(env, folder / "static")
    python = str(served.BIN / "python")
    served.run_checked([python, "manage.py", "migrate", "--noinput"], env)
    served.run_checked([python, "manage.py", "shell", "--no-imports", "-c", OPERATOR], env)
    with served.gunicorn(env, ["--workers", "1"], log_folder=folder) as server:
        yield server


def answers_of(page) -> list:
    """Every response the page gets from now on: (status, url, headers)."""
    answers = []
    page.on("response", lambda response: answers.append((response.status, response.url, response.headers)))
    return answers


def failed(answers, server) -> list:
    return [(status, url) for status, url, _ in answers if status >= 400 or not url.startswith(server.url)]


def stylesheets(answers) -> list:
    return [(url, headers) for status, url, headers in answers if url.endswith(".css")]


def test_the_admin_has_its_stylesheets_from_gunicorn_alone(production, chromium_page, screenshot):
    page = chromium_page
    answers = answers_of(page)

    page.goto(f"{production.url}/admin/login/")
    page.wait_for_load_state("networkidle")
    screenshot(page, "login")

    assert failed(answers, production) == []
    header = page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor")
    assert header == HEADER_BACKGROUND
    # Cache-busted (the content's hash in the name, kept for good) and compressed.
    css = stylesheets(answers)
    assert any("/static/admin/css/base." in url for url, _ in css)
    for url, headers in css:
        assert "immutable" in headers["cache-control"], url
        assert headers.get("content-encoding") == "gzip", url

    answers.clear()
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    page.wait_for_load_state("networkidle")
    screenshot(page, "index")

    assert page.url == f"{production.url}/admin/"
    assert "Site administration" in page.locator("#content h1").inner_text()
    assert failed(answers, production) == []
    assert page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor") == HEADER_BACKGROUND
    assert production.log.read_text().count(" ERROR ") == 0


def test_the_docs_page_draws_every_operation_from_gunicorn_alone(production, chromium_page, screenshot):
    page = chromium_page
    answers = answers_of(page)

    page.goto(f"{production.url}/v1/docs/")
    page.wait_for_selector(".opblock-summary-path")
    page.wait_for_load_state("networkidle")
    screenshot(page, "docs")

    assert failed(answers, production) == []
    shown = page.locator(".opblock-summary-path").all_inner_texts()
    assert sorted(set(path.replace("\u200b", "") for path in shown)) == sorted(ENDPOINTS)
    # Swagger UI's own stylesheet applied: its operations are laid out as blocks of its colours.
    post = page.evaluate("getComputedStyle(document.querySelector('.opblock-post')).borderColor")
    assert post == "rgb(73, 204, 144)"
    assert any(url.endswith(".js") and "swagger-ui-bundle." in url for _, url, _ in answers)
