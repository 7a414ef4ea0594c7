"""The `from` and `until` of an export's time window, read the same way by the API, the command and the admin."""
from datetime import date, datetime, time, timezone

# The forms the schema shows (README's and the OpenAPI's examples): a date, or a date-time to the minute or
# second with Z or an offset. window_bound() reads whatever ISO 8601 Python reads; this is what a client
# should send, and what a generator of requests from the schema then sends (days to the 28th: every month).
DOCUMENTED_FORM = (
    r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    r"(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?$"
)


class BadBound(ValueError):
    """A bound that is not an ISO 8601 date or a date-time with an offset; its message says which."""


def window_bound(text: str) -> datetime:
    """An ISO 8601 date (its midnight UTC) or date-time with an offset or Z, as an aware datetime.

    A date-time without an offset is refused rather than read in some zone: the same text would
    mean another instant on another server."""
    try:
        if "T" not in text.upper():
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=timezone.utc)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadBound(
            "Expected an ISO 8601 date (2026-01-01) or date-time with an offset (2026-01-01T09:00:00+01:00)."
        )
    if moment.utcoffset() is None:
        raise BadBound("A date-time needs an offset or Z (2026-01-01T09:00:00Z).")
    try:
        # In UTC, as the database compares it: 9999-12-31T23:00-05:00 is past the last year a datetime holds.
        return moment.astimezone(timezone.utc)
    except OverflowError:
        raise BadBound("Out of range: in UTC, the year must be 1 to 9999.")


def refuse_empty_window(since: datetime | None, until: datetime | None) -> None:
    """BadBound if the window holds no instant: `until` must come after `from`."""
    if since is not None and until is not None and until <= since:
        raise BadBound("Must be after from.")
