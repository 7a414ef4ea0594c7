"""The queries that decide which slots and groups a user may read.

Authorisation lives inside these queries: a group the user may not see is
indistinguishable from one that does not exist.
"""
from collections.abc import Iterable
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


def slot_list(*, user: AbstractBaseUser, group: SlotGroup | None = None) -> QuerySet[Slot]:
    """The slots the user created, in the group if one is given, by start then uuid."""
    slots = Slot.objects.filter(creator=user)
    if group is not None:
        slots = slots.filter(groups=group)
    return slots.order_by("start", "uuid")
