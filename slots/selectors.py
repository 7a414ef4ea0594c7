"""The queries that decide which slots and groups a user may read.

Authorisation lives inside these queries: a group the user may not see is
indistinguishable from one that does not exist.
"""
from collections.abc import Iterable
from datetime import datetime, timedelta
from uuid import UUID

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet

from slots.models import Slot, SlotGroup


def group_visible_to(*, user: AbstractBaseUser, uuid: UUID) -> SlotGroup:
    """The group with this uuid if the user owns it or is a member; SlotGroup.DoesNotExist otherwise."""
    return groups_visible_to(user=user, uuids=[uuid]).get()


def groups_visible_to(*, user: AbstractBaseUser, uuids: Iterable[UUID]) -> QuerySet[SlotGroup]:
    """Those of the groups with these uuids that the user owns or is a member of."""
    return SlotGroup.objects.filter(Q(owner=user) | Q(members=user), uuid__in=uuids).distinct()


def slot_list(
    *,
    user: AbstractBaseUser,
    group: SlotGroup | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Slot]:
    """The slots the user created, in the group if one is given, that overlap the window [since, until)
    if one is given (either end may be open), by start then uuid."""
    slots = Slot.objects.filter(creator=user)
    if group is not None:
        slots = slots.filter(groups=group)
    return slots.filter(in_window(since=since, until=until)).order_by("start", "uuid")


def in_window(*, since: datetime | None = None, until: datetime | None = None) -> Q:
    """The slots that overlap the window [since, until), either end open: the exports' window, and a feed's
    rolling one (export/feeds.py), alike."""
    window = Q()
    if until is not None:
        window &= Q(start__lt=until)
    if since is not None:
        window &= overlaps_from(since)
    return window


def overlaps_from(since: datetime) -> Q:
    """A slot that reaches into the time from `since` on.

    A slot starting at or after it (a zero-length one too: a point at `since` is inside a half-open
    window), an open-ended one (it lasts from its start on), one ending after it, and an all-day one
    whose first day does: the export shows an all-day slot as at least the day it starts, 24 hours
    from its start at that day's midnight. Plain comparisons of columns, so the export's index on
    (creator, start, uuid) keeps serving the read in order.
    """
    try:
        first_day_reaches = Q(all_day=True, start__gt=since - timedelta(days=1))
    except OverflowError:
        first_day_reaches = Q(all_day=True)
    return Q(start__gte=since) | Q(end__isnull=True) | Q(end__gt=since) | first_day_reaches
