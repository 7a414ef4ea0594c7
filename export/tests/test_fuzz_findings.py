"""What `make fuzz` (Schemathesis against /v1/schema/) found, one test each, so it stays fixed."""
import pytest
from rest_framework.test import APIClient

from export.feeds import create_feed

pytestmark = pytest.mark.django_db

EVERY_URL = [
    ("/v1/export/google", "POST"),
    ("/v1/export/ical", "POST"),
    ("/v1/export/outlook", "POST"),
    ("/v1/export/timeslot", "POST"),
    ("/v1/import", "POST"),
    ("/v1/feeds", "GET, POST"),
    ("/v1/feeds/0d6e2b1c-1111-4a1e-9c41-5b1f2d7a0001", "PATCH, DELETE"),
    ("/v1/feeds/0d6e2b1c-1111-4a1e-9c41-5b1f2d7a0001/rotate", "POST"),
]


@pytest.mark.parametrize("path, allowed", EVERY_URL)
def test_options_is_405_in_json_naming_the_methods_the_url_answers(api, path, allowed):
    # An export rendered DRF's OPTIONS metadata with its calendar renderer: a 500.
    response = api.options(path, HTTP_ACCEPT="text/plain")

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == allowed


def test_options_on_a_feed_calendar_is_405_naming_get_and_head(user):
    _, secret = create_feed(owner=user, group=None)

    response = APIClient().options(f"/v1/feeds/{secret}.ics")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", ["/v1/feeds/null,null", "/v1/feeds/not-a-uuid/rotate", "/v1/nothing"])
def test_an_api_url_that_matches_no_route_is_404_in_json(api, path):
    # Django's HTML page answered these, unlike every other error of the API.
    response = api.delete(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "request_id": response["X-Request-Id"]}


def test_a_url_outside_the_api_that_matches_no_route_is_still_djangos_page(client):
    response = client.get("/admin-nothing/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/v1/nothing", "/v1/feeds/not-a-uuid/rotate", "/v1/", "/v1/schema/nothing"])
def test_with_debug_on_an_api_url_that_matches_no_route_is_still_404_in_json(settings, api, path):
    # `make run` has DEBUG on: Django then answers with its technical page, not handler404.
    settings.DEBUG = True

    response = api.delete(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "request_id": response["X-Request-Id"]}


def test_with_debug_on_a_url_outside_the_api_keeps_djangos_technical_page(settings, client):
    settings.DEBUG = True

    response = client.get("/admin-nothing/")

    assert response.status_code == 404
    assert b"Using the URLconf defined in" in response.content


@pytest.mark.parametrize("debug", [True, False], ids=["debug on", "debug off"])
def test_the_docs_without_their_slash_still_redirect_to_it(settings, client, debug):
    settings.DEBUG = debug

    response = client.get("/v1/docs")

    assert response.status_code == 301
    assert response["Location"] == "/v1/docs/"
