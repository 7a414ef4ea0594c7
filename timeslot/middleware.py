from django.conf import settings

from timeslot.exceptions import is_api, page_not_found


class APINotFoundMiddleware:
    """A path under the API that no route takes is 404 in JSON with DEBUG on too (`make run`).

    Django answers it with handler404 (timeslot.exceptions.page_not_found) only with DEBUG off, and with
    its technical page, in HTML, otherwise. No route took the path when no resolver match was set.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.DEBUG and response.status_code == 404 and request.resolver_match is None and is_api(request):
            return page_not_found(request, None)
        return response


class LegacySecurityHeadersMiddleware:
    """The one header of the seed's response that Django no longer sets.

    The seed sent `X-XSS-Protection: 1; mode=block`. Browsers have removed the
    filter it switched on, and where it existed, mode=block enabled cross-site
    leaks; OWASP's advice is 0, which keeps the header and drops the flaw.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("X-XSS-Protection", "0")
        return response
