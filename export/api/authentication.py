from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from export.api.throttling import address_throttle

# Token.key is a CharField(max_length=40); a longer credential cannot match.
MAX_KEY_LENGTH = 40


class LegacyTokenAuthentication(TokenAuthentication):
    """DRF's token header, also in the legacy forms `Token token=<key>` and `Token token="<key>"`.

    The header is read with partition and slicing only, so its cost stays
    linear in its length whatever it holds.
    """

    def authenticate(self, request):
        # Before the header is read: an address past its rate of failures is refused (429) without
        # a lookup, whatever it sends.
        throttle = address_throttle(request)
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            # No token offered: a 401, but no guess to count.
            return None
        try:
            return self.authenticate_credentials(self.key_from(credentials.strip(" ")))
        except exceptions.AuthenticationFailed:
            throttle.failed(request)
            raise

    @staticmethod
    def key_from(credentials: str) -> str:
        """The key in `<key>`, `token=<key>` or `token="<key>"`; AuthenticationFailed for anything else."""
        if credentials[:6].lower() == "token=":
            credentials = credentials[6:]
            if len(credentials) >= 2 and credentials[0] == credentials[-1] == '"':
                credentials = credentials[1:-1]
        if not (0 < len(credentials) <= MAX_KEY_LENGTH and credentials.isascii() and credentials.isalnum()):
            raise exceptions.AuthenticationFailed("Invalid token header.")
        return credentials
