"""How a log line looks: text for a person (the default), or one JSON object a line for a log shipper
(LOG_FORMAT=json). Both show the id of the request the line was written for (timeslot/request_ids.py), and
both are written by handlers that redact secrets first (timeslot/logs.py): a formatter only prints what the
filters left of the record.
"""
import json
import logging
import os
from datetime import datetime, timezone

from django.core.exceptions import ImproperlyConfigured

FORMATS = ("text", "json")
# "-" for a line written outside a request, as in an access log.
TEXT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
TEXT_DEFAULTS = {"request_id": "-"}


def log_format() -> str:
    """LOG_FORMAT: text or json (any case); anything else is refused, rather than logging in a format the
    log's reader does not expect."""
    chosen = os.environ.get("LOG_FORMAT", "").strip().lower() or "text"
    if chosen not in FORMATS:
        raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {chosen!r}.")
    return chosen


class JSONLines(logging.Formatter):
    """One JSON object a record: time (UTC, ISO 8601), level, logger, message, request_id (null outside a
    request), and exception, the traceback's text, when there is one. json.dumps escapes every line break
    and every character beyond ASCII, so a record is one line whatever its message holds."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line)
