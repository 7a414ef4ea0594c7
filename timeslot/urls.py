from django.contrib import admin
from django.urls import include, path

from export.api.docs_views import DocsView, SchemaView
from timeslot.metrics import metrics_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1/", include("export.api.urls")),
    # The API's OpenAPI schema and its Swagger UI page (export/api/schema.py).
    path("v1/schema/", SchemaView.as_view(), name="schema"),
    path("v1/docs/", DocsView.as_view(url_name="schema"), name="docs"),
    # Prometheus's scrape, with METRICS_TOKEN (timeslot/metrics.py).
    path("metrics", metrics_view, name="metrics"),
]

# Unhandled errors answer JSON, like every other error of the API; a database that is down, 503.
handler500 = "timeslot.exceptions.server_error"
# An API path that no route takes is 404 in JSON too (with DEBUG on: timeslot.middleware.APINotFoundMiddleware),
# and a request Django refuses before DRF reads it (e.g. a Host not in ALLOWED_HOSTS), 400 in JSON.
handler404 = "timeslot.exceptions.page_not_found"
handler400 = "timeslot.exceptions.bad_request"
