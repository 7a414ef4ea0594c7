"""GET /metrics: the service's counts (export/metrics.py) in Prometheus's text format, for a scraper holding
METRICS_TOKEN as a bearer token (RFC 6750).

Unset, the path is not there (404, as any unknown path). A missing or wrong token is 401 in JSON with
WWW-Authenticate: Bearer, and a wrong one counts as a failed authentication of the client's address, as a
wrong API token does; the token is compared in constant time and never logged.
"""
import hmac
import math
import os

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from rest_framework import status

from export.api.throttling import AddressThrottled, address_throttle
from timeslot.exceptions import api_json

SCHEME = "bearer"


@require_safe
def metrics_view(request):
    if not settings.METRICS_TOKEN:
        raise Http404
    # Past its rate of failures, the address is refused before its token is read.
    try:
        throttle = address_throttle(request)
    except AddressThrottled as refusal:
        response = api_json({"detail": str(refusal.detail)}, status=refusal.status_code)
        response["Retry-After"] = str(math.ceil(refusal.wait))
        return response
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != SCHEME:
        return refused("Send the metrics token: Authorization: Bearer <METRICS_TOKEN>.")
    if not hmac.compare_digest(presented.strip(" ").encode("latin-1", "replace"), settings.METRICS_TOKEN.encode()):
        throttle.failed(request)
        return refused("Invalid metrics token.", error='error="invalid_token"')
    response = HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_PLAIN_0_0_4)
    response["Cache-Control"] = "no-store"
    return response


def registry():
    """Every worker's counts, read from PROMETHEUS_MULTIPROC_DIR anew for each scrape (a registry made for it, as
    prometheus-client's multiprocess mode asks); without it, this process's own."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    scraped = CollectorRegistry()
    multiprocess.MultiProcessCollector(scraped)
    return scraped


def refused(detail: str, *, error: str = "") -> HttpResponse:
    response = api_json({"detail": detail}, status=status.HTTP_401_UNAUTHORIZED)
    response["WWW-Authenticate"] = ", ".join(filter(None, ['Bearer realm="metrics"', error]))
    return response
