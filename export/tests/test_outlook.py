"""POST /v1/export/outlook: the CSV, read back with the csv module and Google's column names."""
import csv
import io
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from export.formats.outlook.writer import HEADER, csv_chunks, guarded, slot_row
from slots.models import Slot
from slots.tests.factories import SlotFactory, SlotGroupFactory

pytestmark = pytest.mark.django_db

UTC = timezone.utc
GOOGLE_COLUMNS = [
    "Subject", "Start Date", "Start Time", "End Date", "End Time",
    "All Day Event", "Description", "Location", "Private",
]


def exported(client, **data) -> tuple:
    response = client.post("/v1/export/outlook", data, format="json")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def rows_of(body: bytes) -> list[dict]:
    reader = csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline=""))
    assert reader.fieldnames == GOOGLE_COLUMNS
    return list(reader)


def unguarded(cell: str) -> str:
    """What an import does: one leading "'" off."""
    return cell[1:] if cell.startswith("'") else cell


def test_the_csv_has_googles_columns_and_one_row_a_slot(api, user):
    SlotFactory.create_batch(3, creator=user)

    response, body = exported(api)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="Timeslot-Export.csv"'
    assert body.startswith("\ufeffSubject,".encode())
    assert len(rows_of(body)) == 3


def test_a_timed_slot_is_written_in_the_zone_asked_for(api, user):
    SlotFactory(
        creator=user, title="Standup", time_zone="Europe/Berlin",
        start=datetime(2026, 12, 7, 14, 5, tzinfo=UTC), end=datetime(2026, 12, 8, 4, 30, tzinfo=UTC),
        description="Daily", location="Room 1", visibility="public",
    )

    (row,) = rows_of(exported(api, time_zone="America/New_York")[1])

    assert row == {
        "Subject": "Standup", "Start Date": "12/07/2026", "Start Time": "09:05 AM",
        "End Date": "12/07/2026", "End Time": "11:30 PM", "All Day Event": "False",
        "Description": "Daily", "Location": "Room 1", "Private": "False",
    }


def local_times(row: dict) -> tuple[datetime, datetime]:
    """The row's start and end as the wall-clock times it writes."""
    def at(day: str, clock: str) -> datetime:
        return datetime.strptime(f"{day} {clock}", "%m/%d/%Y %I:%M %p")

    return at(row["Start Date"], row["Start Time"]), at(row["End Date"], row["End Time"])


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Asia/Kolkata", "UTC"])
def test_every_row_is_written_in_the_one_zone_asked_for_whatever_the_slots_zone(api, user, zone):
    # Importers read a CSV in one zone: a row in its slot's own zone would land hours off there.
    slots = [
        SlotFactory(creator=user, title=slot_zone, time_zone=slot_zone,
                    start=datetime(2026, 3, day, 9, 15, tzinfo=UTC), end=datetime(2026, 3, day, 17, 45, tzinfo=UTC))
        for day, slot_zone in enumerate(["America/New_York", "Europe/Berlin", "Asia/Tokyo"], start=2)
    ]

    rows = rows_of(exported(api, time_zone=zone)[1])

    local = ZoneInfo(zone)
    assert [row["Subject"] for row in rows] == [slot.title for slot in slots]
    for row, slot in zip(rows, slots):
        assert local_times(row) == (
            slot.start.astimezone(local).replace(tzinfo=None), slot.end.astimezone(local).replace(tzinfo=None)
        )


def test_without_a_time_zone_the_rows_are_in_the_services_time_zone(api, user, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    slot = SlotFactory(creator=user, time_zone="Europe/Berlin", start=datetime(2026, 12, 7, 14, 5, tzinfo=UTC),
                       end=datetime(2026, 12, 7, 15, tzinfo=UTC))

    (row,) = rows_of(exported(api)[1])

    assert local_times(row)[0] == slot.start.astimezone(ZoneInfo("Asia/Tokyo")).replace(tzinfo=None)


def test_the_time_zone_may_come_in_the_query_string_or_a_form_body(api, user):
    SlotFactory(creator=user, time_zone="UTC", start=datetime(2026, 12, 7, 14, 5, tzinfo=UTC), end=None)

    (from_query,) = rows_of(b"".join(api.post("/v1/export/outlook?time_zone=Asia/Tokyo").streaming_content))
    (from_form,) = rows_of(b"".join(api.post("/v1/export/outlook", {"time_zone": "Asia/Tokyo"}).streaming_content))

    assert from_query["Start Time"] == from_form["Start Time"] == "11:05 PM"


def test_an_all_day_slot_keeps_its_own_dates_in_any_zone(api, user):
    SlotFactory(
        creator=user, all_day=True, time_zone="Asia/Tokyo",
        start=datetime(2026, 12, 23, 15, tzinfo=UTC), end=datetime(2026, 12, 25, 15, tzinfo=UTC),
    )

    (row,) = rows_of(exported(api, time_zone="America/Los_Angeles")[1])

    assert [row[column] for column in GOOGLE_COLUMNS[1:6]] == ["12/24/2026", "", "12/25/2026", "", "True"]


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "utc+2", "../../etc/passwd", 42, ["UTC"]])
def test_a_time_zone_that_is_not_an_iana_name_is_422_naming_it(api, user, zone):
    response, _ = exported(api, time_zone=zone)

    assert response.status_code == 422
    assert set(response.json()) == {"time_zone", "request_id"}


def test_a_bad_time_zone_in_the_query_string_is_422_naming_it(api):
    response = api.post("/v1/export/outlook?time_zone=Nowhere")

    assert response.status_code == 422
    assert set(response.json()) == {"time_zone", "request_id"}


@pytest.mark.parametrize(("url", "name", "value"), [
    ("/v1/export/google", "time_zone", "Europe/Berlin"),
    ("/v1/export/timeslot", "time_zone", "UTC"),
    ("/v1/export/outlook", "parts", "true"),
    ("/v1/export/timeslot", "parts", "false"),
])
def test_another_exports_parameter_is_422_naming_it_not_ignored(api, url, name, value):
    in_body = api.post(url, {name: value}, format="json")
    in_query = api.post(f"{url}?{name}={value}")

    for response in (in_body, in_query):
        assert response.status_code == 422
        assert list(response.json()) == [name, "request_id"] and "Only the" in response.json()[name][0]


@pytest.mark.parametrize(
    ("hour", "text"), [(0, "12:00 AM"), (1, "01:00 AM"), (11, "11:00 AM"), (12, "12:00 PM"), (13, "01:00 PM")]
)
def test_times_are_twelve_hour_with_am_and_pm(api, user, hour, text):
    SlotFactory(creator=user, start=datetime(2026, 12, 7, hour, tzinfo=UTC), end=None, time_zone="UTC")

    (row,) = rows_of(exported(api)[1])

    assert row["Start Time"] == text


def test_an_open_end_leaves_end_date_and_time_empty(api, user):
    SlotFactory(creator=user, end=None)

    (row,) = rows_of(exported(api)[1])

    assert (row["End Date"], row["End Time"]) == ("", "")


def test_an_all_day_slot_has_dates_only_and_its_last_day_as_end(api, user):
    SlotFactory(
        creator=user, all_day=True, time_zone="UTC",
        start=datetime(2026, 12, 24, tzinfo=UTC), end=datetime(2026, 12, 26, tzinfo=UTC),
    )

    (row,) = rows_of(exported(api)[1])

    assert [row[column] for column in GOOGLE_COLUMNS[1:6]] == ["12/24/2026", "", "12/25/2026", "", "True"]


@pytest.mark.parametrize(("visibility", "private"), [("private", "True"), ("friends", "True"), ("public", "False")])
def test_only_public_slots_are_not_private(api, user, visibility, private):
    SlotFactory(creator=user, visibility=visibility)

    (row,) = rows_of(exported(api)[1])

    assert row["Private"] == private


@pytest.mark.parametrize("text", ["=1+1", "+49 30", "-2", "@SUM(A1)", "\tx", "\rx", "'quoted"])
def test_a_cell_a_spreadsheet_would_evaluate_is_neutralised(api, user, text):
    SlotFactory(creator=user, title=text, description=text, location=text)

    (row,) = rows_of(exported(api)[1])

    assert row["Subject"] == row["Description"] == row["Location"] == "'" + text


def test_separators_quotes_and_line_breaks_are_quoted_as_rfc_4180_says(api, user):
    SlotFactory(creator=user, title='Say "hi", then; leave', description="one\r\ntwo\nthree")

    body = exported(api)[1]

    assert b'"Say ""hi"", then; leave"' in body
    (row,) = rows_of(body)
    assert row["Description"] == "one\r\ntwo\nthree"
    assert body.endswith(b"\r\n")


def test_a_group_limits_the_rows_like_the_calendar(api, user):
    group = SlotGroupFactory(owner=user)
    SlotFactory(creator=user, title="In", groups=[group])
    SlotFactory(creator=user, title="Out")

    rows = rows_of(exported(api, group=str(group.uuid))[1])

    assert [row["Subject"] for row in rows] == ["In"]


def test_rows_follow_the_calendars_order(api, user):
    start = datetime(2027, 1, 1, 9, tzinfo=UTC)
    for days in (3, 1, 2):
        SlotFactory(creator=user, title=f"day {days}", start=start + timedelta(days=days), end=None)

    assert [row["Subject"] for row in rows_of(exported(api)[1])] == ["day 1", "day 2", "day 3"]


def test_large_exports_stream_with_a_constant_number_of_queries(api, user, django_assert_num_queries):
    SlotFactory.create_batch(400, creator=user, description="long text, " * 30)

    # Token, the slot limit's bounded count, slots, and the savepoint around the read; then the export
    # log's one INSERT, which the test's transaction wraps in a savepoint of its own (two more queries
    # that production, in autocommit, does as BEGIN and COMMIT).
    with django_assert_num_queries(8):
        response = api.post("/v1/export/outlook", b"", content_type="application/json")
        chunks = list(response.streaming_content)

    assert len(chunks) > 2
    assert len(rows_of(b"".join(chunks))) == 400


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text(), st.text())
def test_any_text_reads_back_exactly(title, description, location):
    slot = Slot(
        title=title, description=description, location=location, time_zone="UTC",
        start=datetime(2026, 1, 1, tzinfo=UTC), end=None, all_day=False, visibility="private",
    )

    body = b"".join(csv_chunks([slot_row(slot, ZoneInfo("UTC"))]))

    (row,) = rows_of(body)
    assert (unguarded(row["Subject"]), unguarded(row["Description"]), unguarded(row["Location"])) == (
        title, description, location
    )


def test_the_guard_is_undone_by_taking_one_quote_off():
    for text in ["=x", "'=x", "''", "plain", ""]:
        assert unguarded(guarded(text)) == text


def test_the_header_is_googles():
    assert list(HEADER) == GOOGLE_COLUMNS
