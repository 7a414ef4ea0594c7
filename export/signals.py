"""Moves a user's SlotChangeClock when their slots change in a way no remaining slot's updated_at shows,
and on every change to them sets their feeds' cached versions aside (export/feed_versions.py).

Without the clock a feed could not tell that a slot went away: its Last-Modified
comes from the slots still in it (deletions must reach subscribers).
"""
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from export.feed_versions import slots_changed
from export.models import SlotChangeClock
from slots.models import Slot


@receiver(post_save, sender=Slot, dispatch_uid="export.slot_saved")
def slot_saved(sender, instance: Slot, **kwargs) -> None:
    # Its updated_at tells the feed's version; the version cached before it does not.
    slots_changed([instance.creator_id])


@receiver(post_delete, sender=Slot, dispatch_uid="export.slot_deleted")
def slot_deleted(sender, instance: Slot, origin=None, **kwargs) -> None:
    # A user being deleted takes their clock and feeds along: a clock written
    # now would point at a user that no longer exists.
    origin_model = origin.model if isinstance(origin, QuerySet) else type(origin)
    if issubclass(origin_model, get_user_model()):
        return
    SlotChangeClock.bump([instance.creator_id])
    slots_changed([instance.creator_id])


@receiver(m2m_changed, sender=Slot.groups.through, dispatch_uid="export.slot_groups_changed")
def slot_groups_changed(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    """A slot joining or leaving a group changes that group's feeds, from either side of the relation."""
    # pre_clear, not post_clear: only before a clear are the slots it removes known.
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if action != "pre_clear" and not pk_set:
        return
    if not reverse:
        creators = {instance.creator_id}
    else:
        slots = instance.slots.all() if action == "pre_clear" else Slot.objects.filter(pk__in=pk_set)
        creators = set(slots.values_list("creator_id", flat=True))
    SlotChangeClock.bump(creators)
    slots_changed(creators)
