"""The OpenAPI schema at /v1/schema/ and its page at /v1/docs/: valid, complete, and true to the API."""
import json
import re
from datetime import datetime, timezone

import jsonschema
import pytest
from django.core.management import call_command
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from export.api import urls
from export.api.schema import DEMO_GROUP
from export.feeds import create_feed
from slots.tests.factories import SlotFactory, SlotGroupFactory

pytestmark = pytest.mark.django_db

EXPORTS = {
    "/v1/export/google": "text/calendar",
    "/v1/export/ical": "text/calendar",
    "/v1/export/outlook": "text/csv",
    "/v1/export/timeslot": "application/json",
}
FEED_CALENDAR = "/v1/feeds/{secret}.ics"
# Every status code each operation can answer: read from the views, the tests of each endpoint and the
# README; 429 and 503 come with the throttling and the database-down answer.
EXPORT_CODES = {200, 400, 401, 404, 405, 406, 413, 415, 422, 429, 500, 503}
STATUS_CODES = {
    **{(path, "post"): EXPORT_CODES for path in EXPORTS},
    ("/v1/import", "post"): {200, 400, 401, 404, 405, 409, 413, 415, 422, 429, 503},
    ("/v1/feeds", "get"): {200, 401, 405, 406, 429, 503},
    ("/v1/feeds", "post"): {201, 400, 401, 404, 405, 406, 409, 413, 415, 422, 429, 503},
    ("/v1/feeds/{feed_id}", "patch"): {200, 400, 401, 404, 405, 406, 413, 415, 422, 429, 503},
    ("/v1/feeds/{feed_id}", "delete"): {204, 401, 404, 405, 406, 429, 503},
    ("/v1/feeds/{feed_id}/rotate", "post"): {200, 401, 404, 405, 406, 429, 503},
    (FEED_CALENDAR, "get"): {200, 304, 404, 405, 412, 422, 429, 503},
    (FEED_CALENDAR, "head"): {200, 304, 404, 405, 412, 422, 429, 503},
}
# The original API documentation's description of `group`, word for word.
DOCUMENTED_GROUP_WORDING = [
    "Holds the uuid of the slot group which should be exported.",
    "If the parameter group is missing, all Slot will be exported.",
    "If the group uuid was not found, no Slot will be exported",
]


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        response = APIClient().get("/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def openapi_path(route: str) -> str:
    """export/api/urls.py's route as the schema writes it: `feeds/<uuid:feed_id>` is `/v1/feeds/{feed_id}`."""
    return "/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


# Valid ------------------------------------------------------------------------------------------


def test_the_schema_passes_drf_spectaculars_validation_without_a_warning(tmp_path):
    # --fail-on-warn: a view drf-spectacular could not read (an unknown body, a missing type) fails too.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.0.3")


def test_the_schema_is_a_valid_openapi_3_document(schema):
    validate(schema)

    assert schema["openapi"].startswith("3.")


def test_the_schema_and_the_docs_need_no_token():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token token=wrong")

    assert client.get("/v1/schema/").status_code == 200
    assert client.get("/v1/docs/").status_code == 200


DOCS = ["/v1/schema/", "/v1/docs/"]


@pytest.mark.parametrize("authorization", ["Token token=wrong", None], ids=["a token", "no token"])
@pytest.mark.parametrize("method", ["options", "post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", DOCS)
def test_the_schema_and_the_docs_answer_other_methods_than_get_and_head_with_405_in_json(path, method, authorization):
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)

    response = getattr(client, method)(path)

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "GET, HEAD"
    assert response.json() == {
        "detail": f'Method "{method.upper()}" not allowed.', "request_id": response["X-Request-Id"]
    }


@pytest.mark.parametrize("path", DOCS)
def test_the_schema_and_the_docs_answer_head(path):
    response = APIClient().head(path)

    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize("query, accept, status", [("", "image/png", 406), ("?format=csv", "*/*", 404)],
                         ids=["an accept they cannot serve", "a format they do not have"])
@pytest.mark.parametrize("path", DOCS)
def test_errors_of_the_schema_and_the_docs_are_json(path, query, accept, status):
    response = APIClient().get(path + query, HTTP_ACCEPT=accept)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


# Complete ---------------------------------------------------------------------------------------


def test_every_url_of_the_api_is_in_the_schema_with_the_methods_it_answers(schema):
    answered = set()
    for pattern in urls.urlpatterns:
        view = pattern.callback.view_class
        methods = pattern.callback.view_initkwargs.get("http_method_names", view.http_method_names)
        answered |= {(openapi_path(str(pattern.pattern)), method) for method in methods}

    documented = {(path, method) for path, method, _ in operations(schema)}

    assert documented == answered
    assert documented == set(STATUS_CODES)


@pytest.mark.parametrize("path, method", sorted(STATUS_CODES))
def test_every_status_code_an_operation_answers_is_documented(schema, path, method):
    responses = schema["paths"][path][method]["responses"]

    assert {int(code) for code in responses} == STATUS_CODES[path, method]
    assert all(response["description"] for response in responses.values())


@pytest.mark.parametrize("path, method", sorted(STATUS_CODES))
def test_every_error_is_json(schema, path, method):
    responses = schema["paths"][path][method]["responses"]
    bodies = {code: response.get("content", {}) for code, response in responses.items() if int(code) >= 400}

    for code, content in bodies.items():
        if method == "head" or code == "412":
            assert content == {}
        else:
            assert list(content) == ["application/json"], code


@pytest.mark.parametrize("path, media_type", EXPORTS.items())
def test_each_export_documents_its_own_media_type(schema, path, media_type):
    ok = schema["paths"][path]["post"]["responses"]["200"]

    if media_type == "text/calendar":
        assert list(ok["content"]) == [media_type, "application/zip"]
        assert set(ok["headers"]) == {"Content-Disposition", "Cache-Control", "Timeslot-Warning", "X-Request-Id"}
        assert not ok["headers"]["Timeslot-Warning"].get("required", False)
    else:
        assert list(ok["content"]) == [media_type]
        assert set(ok["headers"]) == {"Content-Disposition", "Cache-Control", "X-Request-Id"}


@pytest.mark.parametrize("path", ["/v1/export/google", "/v1/export/ical"])
def test_the_calendar_exports_document_the_parts_parameter(schema, path):
    operation = schema["paths"][path]["post"]
    query = next(parameter for parameter in operation["parameters"] if parameter["name"] == "parts")
    body = schema["components"]["schemas"]["CalendarExportParameters"]["properties"]["parts"]

    assert query["schema"] == {"type": "boolean"}
    assert body["type"] == "boolean"
    assert "application/zip" in operation["description"]


def test_the_json_answers_have_their_bodies(schema):
    paths = schema["paths"]
    components = schema["components"]["schemas"]

    assert paths["/v1/export/timeslot"]["post"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Backup"
    }
    assert paths["/v1/feeds"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["items"] == {
        "$ref": "#/components/schemas/Feed"
    }
    assert set(components["Feed"]["properties"]) == {
        "id", "group", "created_at", "last_fetched_at", "past_days", "future_days", "detail_level", "slot_count",
        "bytes", "warnings", "fetch_clients",
    }
    assert components["Feed"]["properties"]["group"]["nullable"] is True
    assert set(components["NewFeed"]["properties"]) == {
        "id", "url", "webcal_url", "google_url", "group", "created_at", "past_days", "future_days", "detail_level",
        "slot_count", "bytes", "warnings",
    }
    assert set(components["ImportResult"]["properties"]) == {
        "created", "updated", "unchanged", "removed", "warnings", "series", "recurrence_window", "calendars",
    }
    assert set(components["ImportSeries"]["properties"]) == {"uid", "title", "where", "occurrences", "capped"}
    assert set(components["RecurrenceWindow"]["properties"]) == {
        "from", "until", "max_occurrences_per_series", "max_occurrences",
    }
    assert set(components["ImportCalendar"]["properties"]) == {
        "file", "group", "new_group", "created", "updated", "unchanged", "removed",
    }
    import_422 = paths["/v1/import"]["post"]["responses"]["422"]["content"]["application/json"]["schema"]
    assert import_422 == {"$ref": "#/components/schemas/ImportProblems"}
    assert components["Error"]["required"] == ["detail", "request_id"]


def test_every_answer_documents_its_request_id_and_every_error_body_holds_it(schema):
    components = schema["components"]["schemas"]
    for path, method, operation in operations(schema):
        for code, response in operation["responses"].items():
            assert response["headers"]["X-Request-Id"]["required"] is True, (path, method, code)
            if int(code) >= 400 and "content" in response:
                body = response["content"]["application/json"]["schema"]
                body = components[body["$ref"].rsplit("/", 1)[1]] if "$ref" in body else body
                assert "request_id" in body["required"], (path, method, code)


def test_429_and_503_carry_retry_after_and_401_www_authenticate_everywhere(schema):
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        for code in ("429", "503"):
            assert responses[code]["headers"]["Retry-After"]["schema"] == {"type": "integer"}, (path, method)
            assert responses[code]["headers"]["Retry-After"]["required"] is True
        if "401" in responses:
            assert "WWW-Authenticate" in responses["401"]["headers"], (path, method)
        assert "Allow" in responses["405"]["headers"], (path, method)


def test_the_answers_that_show_a_secret_url_document_cache_control_no_store(schema):
    created = schema["paths"]["/v1/feeds"]["post"]["responses"]["201"]
    rotated = schema["paths"]["/v1/feeds/{feed_id}/rotate"]["post"]["responses"]["200"]
    changed = schema["paths"]["/v1/feeds/{feed_id}"]["patch"]["responses"]["200"]

    for answer in (created, rotated, changed):
        assert "`no-store`" in answer["headers"]["Cache-Control"]["description"]


def test_the_feed_calendar_documents_its_validators_and_conditional_headers(schema):
    calendar = schema["paths"][FEED_CALENDAR]["get"]

    for code in ("200", "304"):
        assert {"ETag", "Last-Modified", "Cache-Control"} <= set(calendar["responses"][code]["headers"])
    assert {parameter["name"] for parameter in calendar["parameters"]} == {
        "secret", "If-None-Match", "If-Modified-Since"
    }
    assert list(calendar["responses"]["200"]["content"]) == ["text/calendar"]


# The token header -------------------------------------------------------------------------------


def test_the_legacy_token_header_is_the_security_scheme(schema):
    scheme = schema["components"]["securitySchemes"]

    assert list(scheme) == ["legacyToken"]
    assert {key: scheme["legacyToken"][key] for key in ("type", "in", "name")} == {
        "type": "apiKey", "in": "header", "name": "Authorization"
    }
    for form in ("`Token token=<key>`", '`Token token="<key>"`', "`Token <key>`"):
        assert form in scheme["legacyToken"]["description"]


def test_every_operation_needs_the_token_but_the_feed_calendar(schema):
    for path, method, operation in operations(schema):
        if path == FEED_CALENDAR:
            assert operation.get("security", [{}]) == [{}], method
        else:
            assert operation["security"] == [{"legacyToken": []}], (path, method)


# The original API documentation's words and examples ---------------------------------------------


@pytest.mark.parametrize("path", [*EXPORTS, "/v1/feeds"])
def test_the_group_parameter_keeps_the_documented_wording(schema, path):
    operation = schema["paths"][path]["post"]
    query = next(parameter for parameter in operation["parameters"] if parameter["name"] == "group")
    # The operation's own body: each export's parameters are a serializer of their own (the CSV's has a zone).
    component = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    body = schema["components"]["schemas"][component]["properties"]["group"]

    for sentence in DOCUMENTED_GROUP_WORDING:
        assert sentence in query["description"]
        assert sentence in body["description"]
    assert query["schema"] == {"type": "string", "format": "uuid"}
    assert set(operation["requestBody"]["content"]) == {
        "application/json", "application/x-www-form-urlencoded", "multipart/form-data"
    }


@pytest.mark.parametrize("path", EXPORTS)
def test_each_export_shows_the_documented_curl_with_the_legacy_header(schema, path):
    description = schema["paths"][path]["post"]["description"]

    assert f'curl "https://example.org{path}" -d \'\' -X POST' in description
    for header in ("Content-Type: application/json", "Accept: text/plain", "Authorization: Token token=<key>"):
        assert f'-H "{header}"' in description


def test_every_operation_shows_a_curl_line(schema):
    for path, method, operation in operations(schema):
        assert "```sh\ncurl " in operation["description"], (path, method)
        if path != FEED_CALENDAR:
            assert '-H "Authorization: Token token=<key>"' in operation["description"], (path, method)


def test_the_documented_export_requests_get_the_calendar(schema, api, user):
    # The examples are the requests someone copies first: each must work as shown.
    group = SlotGroupFactory(owner=user, uuid=DEMO_GROUP)
    SlotFactory(creator=user, title="In the group", groups=[group])
    SlotFactory(creator=user, title="Not in it")
    SlotFactory(creator=user, title="In the group in January", start=datetime(2026, 1, 15, tzinfo=timezone.utc),
                end=None, groups=[group])
    examples = schema["paths"]["/v1/export/google"]["post"]["requestBody"]["content"]["application/json"]["examples"]

    counts = {}
    for name, example in examples.items():
        response = api.post("/v1/export/google", example["value"], format="json", HTTP_ACCEPT="text/plain")
        assert response.status_code == 200, name
        counts[name] = b"".join(response.streaming_content).count(b"BEGIN:VEVENT")

    assert counts == {"All": 3, "Group": 2, "Window": 1}


# The limits' answers, as sent, against the bodies documented for them ---------------------------


def assert_as_documented(schema, path: str, method: str, response) -> None:
    """The response's status is documented for the operation, and its JSON body valid against the documented schema."""
    documented = schema["paths"][path][method]["responses"][str(response.status_code)]["content"]["application/json"]
    # The components travel with the body's schema, so that its "#/components/..." references resolve.
    jsonschema.validate(response.json(), {**documented["schema"], "components": schema["components"]})
    if response.status_code in (429, 503):
        assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize("path", EXPORTS)
def test_an_export_over_the_slot_limit_answers_as_documented(schema, settings, api, user, path):
    settings.EXPORT_MAX_SLOTS = 1
    SlotFactory.create_batch(2, creator=user)

    response = api.post(path, b"", content_type="application/json")

    assert response.status_code == 422
    assert_as_documented(schema, path, "post", response)


def test_a_feed_over_the_slot_limit_answers_as_documented(schema, settings, user):
    settings.EXPORT_MAX_SLOTS = 1
    SlotFactory.create_batch(2, creator=user)
    _, secret = create_feed(owner=user, group=None)

    response = APIClient().get(f"/v1/feeds/{secret}.ics")

    assert response.status_code == 422
    assert_as_documented(schema, FEED_CALENDAR, "get", response)


def test_a_throttled_address_answers_as_documented(schema):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token token=not-a-key")
    statuses = [client.post("/v1/export/google", b"", content_type="application/json").status_code for _ in range(21)]

    response = client.post("/v1/export/google", b"", content_type="application/json")

    assert statuses == [401] * 20 + [429]
    assert_as_documented(schema, "/v1/export/google", "post", response)


def test_a_user_at_the_feed_limit_answers_as_documented(schema, settings, api):
    settings.FEED_MAX_PER_USER = 1
    assert api.post("/v1/feeds", {}, format="json").status_code == 201

    response = api.post("/v1/feeds", {}, format="json")

    assert response.status_code == 409
    assert response.json()["max_feeds"] == 1
    assert_as_documented(schema, "/v1/feeds", "post", response)


def test_throttled_feed_changes_answer_as_documented(schema, settings, api):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "feed_change": "1/hour"}}
    feed = api.post("/v1/feeds", {}, format="json").json()

    answers = {
        ("/v1/feeds", "post"): api.post("/v1/feeds", {}, format="json"),
        ("/v1/feeds/{feed_id}/rotate", "post"): api.post(f"/v1/feeds/{feed['id']}/rotate"),
        ("/v1/feeds/{feed_id}", "delete"): api.delete(f"/v1/feeds/{feed['id']}"),
    }

    for (path, method), response in answers.items():
        assert response.status_code == 429, path
        assert_as_documented(schema, path, method, response)


def test_a_throttled_feed_fetch_answers_as_documented(schema, settings, user):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "feed_fetch": "1/min"}}
    _, secret = create_feed(owner=user, group=None)
    assert APIClient().head(f"/v1/feeds/{secret}.ics").status_code == 200

    response = APIClient().get(f"/v1/feeds/{secret}.ics")

    assert response.status_code == 429
    assert_as_documented(schema, FEED_CALENDAR, "get", response)
