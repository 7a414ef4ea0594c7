"""The export log: what one export, feed fetch or import sent, measured as it runs and written once at its end;
the metrics (export/metrics.py) count each at the same moment."""
import dataclasses
import ipaddress
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from rest_framework.settings import api_settings

from export import metrics
from export.exports import SlotExport
from export.models import ExportLog
from slots.models import SlotGroup

# The logger keeps the name it had before the module moved into export/api/: log routing matches on it.
logger = logging.getLogger("export.audit")


def record_export(
    *,
    user: AbstractBaseUser | None,
    kind: str,
    status: int,
    group: SlotGroup | None = None,
    slot_count: int = 0,
    bytes: int = 0,
    duration: timedelta = timedelta(0),
    client_address: str | None = None,
    request_id: str = "",
) -> None:
    """Write one log row; a failure is logged and swallowed: the export it describes has already been sent."""
    try:
        # Its own transaction (a savepoint inside another): a failed insert must not break the caller's.
        with transaction.atomic():
            ExportLog.objects.create(
                user=user, kind=kind, group=group, slot_count=slot_count, bytes=bytes, duration=duration,
                status=status, client_address=client_address, request_id=request_id,
            )
    except Exception:
        logger.exception(
            "Could not log the %s export of user %s (status %s, %d slots, %d bytes).",
            kind, getattr(user, "pk", None), status, slot_count, bytes,
        )


def client_address(request) -> str | None:
    """The client's address: REMOTE_ADDR, the peer's, unless the service runs behind NUM_PROXIES proxies of
    its own; then the address the outermost of them saw, which it appended to X-Forwarded-For. What comes
    before it in that header is whatever the client chose to write, and is never read."""
    address = request.META.get("REMOTE_ADDR") or ""
    proxies = api_settings.NUM_PROXIES or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies > 0 and forwarded:
        # As DRF's throttles read it (SimpleRateThrottle.get_ident): one entry a proxy, counted from the right.
        hops = forwarded.split(",")
        address = hops[-min(proxies, len(hops))].strip()
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


@dataclass
class ExportAudit:
    """What the log row of one export will say, counted as the export runs: one increment a row, one a chunk."""

    kind: str
    client_address: str | None = None
    # The request's id (timeslot/request_ids.py); empty for the command.
    request_id: str = ""
    started: float = field(default_factory=time.monotonic)
    slot_count: int = 0
    bytes: int = 0
    # Whether record() writes the row: of a feed's fetches only one an interval does (export.api.limits.FetchRecord),
    # while the metrics count every one.
    logged: bool = True
    # Of an import that went through: how many slots it created, updated, left unchanged and removed.
    imported: Mapping[str, int] | None = None
    # Called with the status once the row is written (or not): what else the export's end records.
    then: Callable[[int], None] | None = None

    @classmethod
    def of_request(cls, kind: str, request) -> "ExportAudit":
        """The audit of an export the request asks for: its client's address and the request's id."""
        return cls(kind=kind, client_address=client_address(request), request_id=getattr(request, "request_id", ""))

    def count_row(self) -> None:
        self.slot_count += 1

    def counted(self, export: SlotExport) -> SlotExport:
        """The export, its rows counted (besides whatever already listens to them, a progress bar)."""
        also = export.on_row
        if also is None:
            return dataclasses.replace(export, on_row=self.count_row)

        def on_row() -> None:
            self.slot_count += 1
            also()

        return dataclasses.replace(export, on_row=on_row)

    def measured(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.bytes += len(chunk)
            yield chunk

    def record(self, *, user: AbstractBaseUser | None, group: SlotGroup | None, status: int) -> None:
        duration = timedelta(seconds=time.monotonic() - self.started)
        metrics.exported(kind=self.kind, status=status, bytes=self.bytes, duration=duration, imported=self.imported)
        if self.logged:
            record_export(
                user=user, kind=self.kind, group=group, slot_count=self.slot_count, bytes=self.bytes,
                duration=duration, status=status, client_address=self.client_address, request_id=self.request_id,
            )
        if self.then is not None:
            try:
                self.then(status)
            except Exception:
                logger.exception(
                    "Could not record the end of the %s export of user %s.", self.kind, getattr(user, "pk", None)
                )
