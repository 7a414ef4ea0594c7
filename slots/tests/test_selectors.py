import uuid
from datetime import timedelta

import pytest

from slots.models import SlotGroup
from slots.selectors import group_visible_to, slot_list
from slots.tests.factories import SlotFactory, SlotGroupFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_slot_list_holds_only_the_slots_the_user_created():
    user = UserFactory()
    mine = SlotFactory(creator=user)
    SlotFactory()

    assert list(slot_list(user=user)) == [mine]


def test_slot_list_of_a_group_holds_only_the_users_slots_in_it():
    user, other = UserFactory(), UserFactory()
    group = SlotGroupFactory(owner=user)
    inside = SlotFactory(creator=user, groups=[group])
    SlotFactory(creator=user)
    SlotFactory(creator=other, groups=[group])

    assert list(slot_list(user=user, group=group)) == [inside]


def test_slot_list_is_ordered_by_start_then_uuid():
    user = UserFactory()
    first = SlotFactory(creator=user)
    ties = SlotFactory.create_batch(4, creator=user, start=first.start + timedelta(days=1))

    assert list(slot_list(user=user)) == [first, *sorted(ties, key=lambda slot: slot.uuid)]


def test_a_group_is_visible_to_its_owner_and_its_members_once_each():
    owner, member = UserFactory(), UserFactory()
    group = SlotGroupFactory(owner=owner)
    group.members.add(member, owner, UserFactory())

    assert group_visible_to(user=owner, uuid=group.uuid) == group
    assert group_visible_to(user=member, uuid=group.uuid) == group


@pytest.mark.parametrize("whose", ["stranger", "missing"])
def test_a_group_is_invisible_to_anyone_else(whose):
    group = SlotGroupFactory()
    user = UserFactory()

    with pytest.raises(SlotGroup.DoesNotExist):
        group_visible_to(user=user, uuid=group.uuid if whose == "stranger" else uuid.uuid4())
