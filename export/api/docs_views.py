"""/v1/schema/ and /v1/docs/: drf-spectacular's views, answering like the rest of the API.

Theirs answer OPTIONS with DRF's metadata, which the docs page renders with its HTML template (a 500:
it has none for it), and their errors in YAML or HTML. These answer GET and HEAD, anything else with
405 and Allow, and every error in JSON.
"""
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from export.api.views import JSONErrorsMixin


class SchemaView(JSONErrorsMixin, SpectacularAPIView):
    http_method_names = ("get", "head")


class DocsView(JSONErrorsMixin, SpectacularSwaggerView):
    http_method_names = ("get", "head")
