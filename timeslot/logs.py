"""What the service's logs may say: no feed secret and no API token, whoever wrote the line.

A feed's path is its secret (GET /v1/feeds/<secret>.ics), and Django's request logger writes the path
of every 4xx and 5xx, gunicorn the request line of every access and of every request it refuses. A line
written while the secret did not work (a throttled address, an owner briefly out of the feed's group)
names a secret that works again later. So every handler of the service (timeslot/settings.py) and of
gunicorn (gunicorn.conf.py) passes each record through RedactSecrets before it writes it.
"""
import logging
import re

MASK = "[redacted]"

# Whatever stands after /feeds/ up to the end of the path segment, but a feed's id (a uuid: the
# management API's /v1/feeds/<id> and /v1/feeds/<id>/rotate), which is no credential. A mistyped
# secret without its .ics may still be one letter away from a working one, so it is masked too.
_SEGMENT_END = r"""(?=[\s/?#&"'<>]|$)"""
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
FEED_SECRET = re.compile(rf"""(/feeds/)(?!{_UUID}{_SEGMENT_END})[^\s/?#&"'<>]+?(\.ics)?{_SEGMENT_END}""")
# An Authorization header's value, as a header line writes it (to the end of the line) or a WSGI environ
# or a header map (to its closing quote).
AUTHORIZATION = re.compile(r"""((?i:authorization)["']?\s*[:=]\s*)(?:(["'])(?:(?!\2).)*\2|[^\r\n]+)""")
# The value of token=... in the legacy header (`Token token=<key>`) or a query string (`?token=`,
# `access_token=`), and the key after the header's scheme (`Token <key>`, and `Bearer <token>`, which
# GET /metrics takes); the scheme's capital keeps the prose of messages ("token header") as it is.
TOKEN_PARAMETER = re.compile(r"""((?i:token)=["']?)[^\s&;,"']+""")
TOKEN_SCHEME = re.compile(r"""\b((?:Token|Bearer) +)(?!token=)[^\s&;,"']+""")


def redacted(text: str) -> str:
    """The text, every feed secret and API token in it replaced by MASK."""
    text = FEED_SECRET.sub(rf"\g<1>{MASK}\g<2>", text)
    text = AUTHORIZATION.sub(rf"\g<1>\g<2>{MASK}\g<2>", text)
    text = TOKEN_PARAMETER.sub(rf"\g<1>{MASK}", text)
    return TOKEN_SCHEME.sub(rf"\g<1>{MASK}", text)


class RedactSecrets(logging.Filter):
    """Rewrites a record, before its handler formats it, so that nothing a formatter can print of it holds
    a secret: the message with its arguments, the traceback, the stack, and the request Django's loggers
    attach (a formatter printing %(request)s gets its redacted repr)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # The handler would print msg and args apart in its error report: print them redacted instead.
            message = f"{record.msg} (arguments that do not fit the message: {record.args!r})"
        record.msg, record.args = redacted(message), None
        if record.exc_info and not record.exc_text:
            # Formatted here, as the handler's formatter would, so that it caches the redacted text.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redacted(record.exc_text)
        if record.stack_info:
            record.stack_info = redacted(record.stack_info)
        if getattr(record, "request", None) is not None:
            record.request = redacted(repr(record.request))
        return True
