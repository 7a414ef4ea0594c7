"""/v1/docs/ in a real browser (Debian's chromium driven by Playwright): the API's page, served offline."""
import pytest

pytestmark = pytest.mark.django_db(transaction=True)

ENDPOINTS = [
    "/v1/export/google", "/v1/export/ical", "/v1/export/outlook", "/v1/export/timeslot", "/v1/import",
    "/v1/feeds", "/v1/feeds/{feed_id}", "/v1/feeds/{feed_id}/rotate", "/v1/feeds/{secret}.ics",
]


def test_the_docs_page_shows_every_endpoint_and_loads_nothing_from_elsewhere(browser_page, live_server, screenshot):
    page = browser_page
    requested = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{live_server.url}/v1/docs/")
    page.wait_for_selector(".opblock-summary-path")
    page.wait_for_load_state("networkidle")
    screenshot(page, "docs")
    shown = page.locator(".opblock-summary-path").all_inner_texts()

    assert sorted(set(path.replace("\u200b", "") for path in shown)) == sorted(ENDPOINTS)
    assert page.locator("button.authorize").count() == 1
    # Swagger UI, its stylesheet, its favicon and the schema all come from this server: no CDN.
    assert any(url.endswith("swagger-ui-bundle.js") for url in requested)
    assert any("/v1/schema/" in url for url in requested)
    assert [url for url in requested if not url.startswith(live_server.url)] == []


def test_the_docs_page_shows_the_documented_curl_and_the_group_wording(browser_page, live_server, screenshot):
    page = browser_page

    page.goto(f"{live_server.url}/v1/docs/#/export/export_google")
    page.wait_for_selector("#operations-export-export_google .opblock-description-wrapper")
    screenshot(page, "export-google")
    operation = page.locator("#operations-export-export_google").inner_text()

    assert "Authorization: Token token=<key>" in operation
    assert "Holds the uuid of the slot group which should be exported." in operation
    assert "If the parameter group is missing, all Slot will be exported." in operation
