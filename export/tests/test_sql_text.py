"""The database's text for uuids and date-times, on the database the suite runs on, against Python's own."""
import uuid
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from export.formats.ical.writer import format_datetime
from export.formats.sql_text import UTCDateTimeText, UUIDText
from slots.models import Slot
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

UTC = timezone.utc
ZONES = [UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")]


def stored_as_text(slot: Slot, **values) -> tuple:
    """Save these values into the slot's row and read them back through the database's text functions."""
    Slot.objects.filter(pk=slot.pk).update(**values)
    return Slot.objects.filter(pk=slot.pk).values_list(UUIDText("uuid"), UTCDateTimeText("start")).get()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.sampled_from(ZONES)),
    st.uuids(),
)
def test_the_database_writes_a_date_time_and_a_uuid_as_python_does(db, moment, value):
    # Each example in a savepoint of its own, undone: hypothesis may draw a uuid twice.
    with transaction.atomic():
        text = stored_as_text(SlotFactory(end=None), start=moment, uuid=value)
        transaction.set_rollback(True)

    assert text == (str(value), format_datetime(moment).decode())


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 11, 28, 9, 59, 59, 999_999, tzinfo=UTC), "20261128T095959Z"),
        (datetime(2026, 12, 31, 23, 59, 59, 999_600, tzinfo=UTC), "20261231T235959Z"),
        (datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "09990102T030405Z"),
        (datetime(2026, 7, 1, 9, 30, tzinfo=ZoneInfo("Europe/Berlin")), "20260701T073000Z"),
    ],
)
def test_fractions_of_a_second_are_cut_off_years_padded_and_times_in_utc(moment, text):
    slot = SlotFactory(start=moment, end=None)

    assert stored_as_text(slot) == (str(slot.uuid), text)


def test_a_uuid_with_leading_zeros_keeps_them():
    value = uuid.UUID("00000000-0000-4000-8000-00000000000a")
    slot = SlotFactory(uuid=value)

    assert stored_as_text(slot)[0] == "00000000-0000-4000-8000-00000000000a"


def test_an_empty_end_is_none_not_text():
    slot = SlotFactory(end=None)

    assert Slot.objects.filter(pk=slot.pk).values_list(UTCDateTimeText("end"), flat=True).get() is None
