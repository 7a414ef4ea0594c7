"""The operators' screens for slots and groups."""
import pytest
from django.urls import reverse

from slots.tests.factories import SlotFactory, SlotGroupFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_staff_find_a_users_slots_by_username(staff_client):
    nora = UserFactory(username="nora")
    SlotFactory(creator=nora, title="Nora's dentist")
    SlotFactory(title="Someone else's")

    response = staff_client.get(reverse("admin:slots_slot_changelist"), {"q": "nora"})

    assert response.status_code == 200
    assert [slot.title for slot in response.context["cl"].result_list] == ["Nora's dentist"]


def test_staff_filter_slots_by_group(staff_client):
    group = SlotGroupFactory()
    SlotFactory(title="In", groups=[group])
    SlotFactory(title="Out")

    response = staff_client.get(reverse("admin:slots_slot_changelist"), {"groups__id__exact": group.pk})

    assert [slot.title for slot in response.context["cl"].result_list] == ["In"]


def test_the_slot_list_costs_the_same_queries_for_many_slots(staff_client, django_assert_max_num_queries):
    SlotFactory.create_batch(50)

    # Session, user, count, page, filters: a fixed handful, not one per slot's creator.
    with django_assert_max_num_queries(10):
        response = staff_client.get(reverse("admin:slots_slot_changelist"))
    assert response.status_code == 200


def test_uuid_and_timestamps_are_read_only(staff_client):
    slot = SlotFactory()

    response = staff_client.get(reverse("admin:slots_slot_change", args=[slot.pk]))

    form = response.context["adminform"].form
    assert {"uuid", "created_at", "updated_at"}.isdisjoint(form.fields)
    assert str(slot.uuid) in response.content.decode()


def test_a_group_shows_its_slots_inline(staff_client):
    group = SlotGroupFactory()
    slot = SlotFactory(title="Inline slot", groups=[group])

    response = staff_client.get(reverse("admin:slots_slotgroup_change", args=[group.pk]))

    assert response.status_code == 200
    assert "Inline slot" in response.content.decode()
    assert str(slot.pk) in response.content.decode()


def test_the_group_list_shows_member_and_slot_counts(staff_client):
    group = SlotGroupFactory(name="Counted")
    group.members.add(UserFactory(), UserFactory())
    SlotFactory.create_batch(3, groups=[group])

    response = staff_client.get(reverse("admin:slots_slotgroup_changelist"))

    (row,) = response.context["cl"].result_list
    assert (row.member_total, row.slot_total) == (2, 3)


def test_non_staff_are_sent_to_the_login_page(client):
    client.force_login(UserFactory())

    response = client.get(reverse("admin:slots_slot_changelist"))

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
