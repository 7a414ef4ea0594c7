from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.middleware import common

from timeslot.exceptions import bad_request, is_api, log_refused, page_not_found


class AllowedHostsMiddleware:
    """A Host header that ALLOWED_HOSTS does not name: 400 in JSON under the API, in one warning line.

    Left to Django, the first middleware that reads the host raises DisallowedHost, which Django logs at
    ERROR with a traceback (django.security.DisallowedHost) for what is a client's or a scanner's mistake.
    Hence first in MIDDLEWARE but for the request's id: SecurityMiddleware reads the host for its HTTPS redirect.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            request.get_host()
        except DisallowedHost as refused:
            # Django's message quotes the host with repr(): it cannot break the log line. No path: a feed's
            # holds its secret.
            return log_refused(refused, request, bad_request(request, refused))
        return self.get_response(request)


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
    """The one header of the original system's response that Django no longer sets.

    The original system sent `X-XSS-Protection: 1; mode=block`. Browsers have removed the
    filter it switched on, and where it existed, mode=block enabled cross-site
    leaks; OWASP's advice is 0, which keeps the header and drops the flaw.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("X-XSS-Protection", "0")
        return response


class CommonMiddleware(common.CommonMiddleware):
    """Django's, without the Content-Length it gives an answer that sends no body of its own.

    Django's counts the content of every answer that does not stream: 0 for a 304, or for a HEAD answered
    without the body (the feeds' do not render the calendar for it), where RFC 9110 §8.6 allows only the
    length of the 200's body, or of the GET's, or none. A HEAD answered with its body (the server drops
    it) keeps its length, which is the GET's.
    """

    def process_response(self, request, response):
        counted = not response.streaming and not response.has_header("Content-Length")
        response = super().process_response(request, response)
        bodiless = response.status_code == 304 or (request.method == "HEAD" and not response.content)
        if counted and bodiless and not response.streaming:
            response.headers.pop("Content-Length", None)
        return response
