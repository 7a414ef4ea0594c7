"""Moves a user's SlotChangeClock when their slots change in a way no remaining slot's updated_at shows,
and on every change to them sets their feeds' cached versions aside (export/feed_versions.py); sets aside what a
feed's secret opens when the feed, its owner, its group or the owner's membership of it changes
(export/feed_access.py).

Without the clock a feed could not tell that a slot went away: its Last-Modified
comes from the slots still in it (deletions must reach subscribers).
"""
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from export.feed_access import access_changed
from export.feed_versions import slots_changed
from export.models import CalendarFeed, SlotChangeClock
from slots.models import Slot, SlotGroup


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


# What a feed's secret opens (export/feed_access.py) -------------------------------------------------------


@receiver(post_save, sender=CalendarFeed, dispatch_uid="export.feed_saved")
@receiver(post_delete, sender=CalendarFeed, dispatch_uid="export.feed_deleted")
def feed_changed(sender, instance: CalendarFeed, **kwargs) -> None:
    # Its window and detail, or the feed gone: revoked, or with its owner or group (a cascade sends this too).
    access_changed([instance.secret_hash])


@receiver(post_save, sender=get_user_model(), dispatch_uid="export.feed_owner_saved")
def feed_owner_saved(sender, instance, update_fields=None, **kwargs) -> None:
    # Deactivated, say; a login's last_login alone changes nothing a feed reads.
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    access_changed(CalendarFeed.objects.filter(owner=instance).values_list("secret_hash", flat=True))


@receiver(post_save, sender=SlotGroup, dispatch_uid="export.feed_group_saved")
def feed_group_saved(sender, instance: SlotGroup, **kwargs) -> None:
    # Its owner, who may see it, or its name, the calendar's.
    access_changed(CalendarFeed.objects.filter(group=instance).values_list("secret_hash", flat=True))


@receiver(m2m_changed, sender=SlotGroup.members.through, dispatch_uid="export.feed_group_members_changed")
def feed_group_members_changed(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    """A member who leaves a group may no longer see it: their feeds of it are set aside, from either side."""
    # pre_clear, not post_clear: only before a clear are the members it removes known.
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not reverse:
        feeds = CalendarFeed.objects.filter(group=instance)
        feeds = feeds if action == "pre_clear" else feeds.filter(owner__in=pk_set)
    else:
        feeds = CalendarFeed.objects.filter(owner=instance, group__isnull=False)
        feeds = feeds if action == "pre_clear" else feeds.filter(group__in=pk_set)
    access_changed(feeds.values_list("secret_hash", flat=True))
