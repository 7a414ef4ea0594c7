from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from slots.models import Slot, SlotGroup
from slots.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_slot_needs_only_creator_title_start_and_end():
    creator = UserFactory()
    start = timezone.now()

    slot = Slot.objects.create(creator=creator, title="Standup", start=start, end=start + timedelta(minutes=15))

    slot.refresh_from_db()
    assert slot.uuid is not None
    assert (slot.description, slot.location, slot.all_day) == ("", "", False)
    assert slot.visibility == Slot.Visibility.PRIVATE
    assert slot.created_at is not None and slot.updated_at is not None


def test_bulk_created_slots_get_their_own_uuids_and_timestamps():
    creator = UserFactory()
    start = timezone.now()

    Slot.objects.bulk_create(
        Slot(creator=creator, title=f"Slot {n}", start=start, end=start + timedelta(hours=n)) for n in range(3)
    )

    slots = Slot.objects.filter(creator=creator)
    assert len({slot.uuid for slot in slots}) == 3
    assert all(slot.created_at and slot.updated_at for slot in slots)


def test_an_open_end_is_stored_as_null():
    slot = Slot.objects.create(creator=UserFactory(), title="Open", start=timezone.now(), end=None)

    slot.refresh_from_db()
    assert slot.end is None


def test_a_slot_cannot_end_before_it_starts():
    start = timezone.now()

    with pytest.raises(IntegrityError):
        Slot.objects.create(creator=UserFactory(), title="Backwards", start=start, end=start - timedelta(seconds=1))


def test_a_group_has_an_owner_members_and_slots():
    owner, member = UserFactory(), UserFactory()
    group = SlotGroup.objects.create(name="Team", owner=owner)
    group.members.add(member)
    slot = Slot.objects.create(creator=owner, title="Plan", start=timezone.now(), end=None)
    slot.groups.add(group)

    assert group.uuid is not None and group.description == ""
    assert list(group.slots.all()) == [slot]
    assert list(member.slot_groups.all()) == [group]
