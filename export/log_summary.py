"""The export log summed up for the admin (ExportLogAdmin's summary page): exports a day by kind and status over
the last days, counted by the database, and the slowest and the largest of them."""
from datetime import datetime, time, timedelta

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from export.models import ExportLog

DEFAULT_DAYS = 14
# A year and a day: the page's one aggregate reads at most this much of the log (its created_at index).
MAX_DAYS = 366
# Rows in each of the slowest and largest lists.
TOP = 10


def window_start(days: int) -> datetime:
    """The midnight, in the current time zone (TIME_ZONE), that begins the last `days` days, today the last."""
    first = timezone.localdate() - timedelta(days=days - 1)
    return timezone.make_aware(datetime.combine(first, time()))


def recent(days: int) -> QuerySet:
    return ExportLog.objects.filter(created_at__gte=window_start(days))


def per_day(days: int) -> list[dict]:
    """{"day", "kind", "status", "exports"} for each day, kind and status the log has rows of, the newest day
    first: one GROUP BY query, the days those of the current time zone."""
    return list(
        recent(days).annotate(day=TruncDate("created_at")).values("day", "kind", "status")
        .annotate(exports=Count("id")).order_by("-day", "kind", "status")
    )


def slowest(days: int) -> list[ExportLog]:
    return list(recent(days).select_related("user", "group").order_by("-duration", "-id")[:TOP])


def largest(days: int) -> list[ExportLog]:
    return list(recent(days).select_related("user", "group").order_by("-bytes", "-id")[:TOP])
