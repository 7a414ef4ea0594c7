"""`from` and `until`: the slots that overlap a window [from, until), on every export, the command and the admin."""
import csv
import io
import json
import random
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from export.tests.ical_reader import parse_events
from export.windows import DOCUMENTED_FORM, window_bound
from slots.models import Slot
from slots.tests.factories import SlotFactory, SlotGroupFactory

pytestmark = pytest.mark.django_db

UTC = timezone.utc
EXPORTS = ["google", "ical", "outlook", "timeslot"]
FROM = datetime(2026, 1, 10, tzinfo=UTC)
UNTIL = datetime(2026, 1, 20, tzinfo=UTC)
WINDOW = {"from": "2026-01-10", "until": "2026-01-20"}


def at(day: int, hour: int = 0, zone=UTC) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=zone)


# Each title says whether the slot is in the window [Jan 10, Jan 20) UTC.
EDGES = {
    "in: spans the whole window": dict(start=at(1), end=datetime(2026, 2, 1, tzinfo=UTC)),
    "in: open-ended, starting before the window": dict(start=at(1), end=None),
    "in: zero-length at from": dict(start=FROM, end=FROM),
    "in: starts at from": dict(start=FROM, end=at(10, 1)),
    "in: ends just after from": dict(start=at(9, 23), end=at(10, 0) + timedelta(seconds=1)),
    "in: inside": dict(start=at(15, 9), end=at(15, 10)),
    "in: starts just before until": dict(start=UNTIL - timedelta(seconds=1), end=at(21)),
    # Jan 10 in Tokyo starts at 15:00 UTC on Jan 9; with no length it still shows the whole day.
    "in: all-day on the window's first day in Tokyo": dict(
        start=at(10, zone=ZoneInfo("Asia/Tokyo")), end=at(10, zone=ZoneInfo("Asia/Tokyo")),
        all_day=True, time_zone="Asia/Tokyo",
    ),
    "in: all-day on the window's first day, open-ended": dict(start=FROM, end=None, all_day=True),
    "out: ends exactly at from": dict(start=at(9, 10), end=FROM),
    "out: starts exactly at until": dict(start=UNTIL, end=at(20, 1)),
    "out: zero-length at until": dict(start=UNTIL, end=UNTIL),
    "out: before": dict(start=at(1), end=at(2)),
    "out: open-ended, starting at until": dict(start=UNTIL, end=None),
    "out: all-day the day before from": dict(start=at(9), end=FROM, all_day=True),
    "out: all-day the day before from in Tokyo": dict(
        start=at(9, zone=ZoneInfo("Asia/Tokyo")), end=at(9, zone=ZoneInfo("Asia/Tokyo")),
        all_day=True, time_zone="Asia/Tokyo",
    ),
}
INSIDE = {title for title in EDGES if title.startswith("in:")}


@pytest.fixture
def edges(user):
    return [SlotFactory(creator=user, title=title, **fields) for title, fields in EDGES.items()]


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def titles(fmt: str, body: bytes) -> set[str]:
    """The exported slots' titles, each format read by its own parser."""
    if fmt == "outlook":
        return {row["Subject"] for row in csv.DictReader(io.StringIO(body.decode("utf-8-sig")))}
    if fmt == "timeslot":
        return {slot["title"] for slot in json.loads(body)["slots"]}
    return {str(event["SUMMARY"]) for event in parse_events(body)}


def windowed(api, fmt: str, parameters: dict, form: str):
    """POST /v1/export/<fmt> with the parameters in a JSON body, a form body or the query string."""
    url = f"/v1/export/{fmt}"
    if form == "json":
        return api.post(url, parameters, format="json")
    if form == "form":
        return api.post(url, urlencode(parameters), content_type="application/x-www-form-urlencoded")
    return api.post(f"{url}?{urlencode(parameters)}", b"", content_type="application/json")


# The API ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["json", "form", "query"])
@pytest.mark.parametrize("fmt", EXPORTS)
def test_each_export_holds_exactly_the_slots_that_overlap_the_window(api, edges, fmt, form):
    response = windowed(api, fmt, WINDOW, form)

    assert response.status_code == 200
    assert titles(fmt, body_of(response)) == INSIDE


@pytest.mark.parametrize("window", [
    {"from": "2026-01-10T00:00:00Z", "until": "2026-01-20T00:00:00Z"},
    {"from": "2026-01-10T01:00:00+01:00", "until": "2026-01-19T19:00:00-05:00"},
    {"from": "2026-01-10T00:00Z", "until": "2026-01-20"},
])
def test_a_date_time_with_an_offset_or_z_is_the_same_instant_as_the_date(api, edges, window):
    assert titles("google", body_of(windowed(api, "google", window, "json"))) == INSIDE


def test_either_end_may_be_left_out(api, edges):
    since = titles("google", body_of(windowed(api, "google", {"from": "2026-01-10"}, "json")))
    until = titles("google", body_of(windowed(api, "google", {"until": "2026-01-20"}, "json")))

    assert since == INSIDE | {"out: starts exactly at until", "out: zero-length at until",
                              "out: open-ended, starting at until"}
    assert until == set(EDGES) - {"out: starts exactly at until", "out: zero-length at until",
                                  "out: open-ended, starting at until"}


def test_the_window_and_the_group_combine(api, user):
    group = SlotGroupFactory(owner=user)
    SlotFactory(creator=user, title="in the group and the window", start=at(12), groups=[group])
    SlotFactory(creator=user, title="in the group, not the window", start=at(25), groups=[group])
    SlotFactory(creator=user, title="in the window, not the group", start=at(12))

    response = windowed(api, "google", {**WINDOW, "group": str(group.uuid)}, "json")

    assert titles("google", body_of(response)) == {"in the group and the window"}


def overlaps(slot: Slot, since: datetime, until: datetime) -> bool:
    """The window's rule, said once more in Python: the slot's span, an all-day one's at least a day from its
    start, an open end endless; a span touching [since, until), or a point inside it."""
    end = slot.end or datetime.max.replace(tzinfo=UTC)
    if slot.all_day:
        end = max(end, slot.start + timedelta(days=1))
    return slot.start < until and (end > since or slot.start >= since)


def test_the_uids_of_the_export_are_those_of_the_slots_that_overlap(api, user):
    chance = random.Random(12)
    for _ in range(300):
        start = at(1) + timedelta(minutes=chance.randrange(60 * 24 * 40))
        length = chance.choice([None, timedelta(0), timedelta(minutes=chance.randrange(1, 60 * 24 * 5))])
        SlotFactory(creator=user, start=start, end=length if length is None else start + length,
                    all_day=chance.random() < 0.2)
    since, until = at(12, 6), at(19, 18)

    response = windowed(api, "google", {"from": since.isoformat(), "until": until.isoformat()}, "json")

    uids = {str(event["UID"]) for event in parse_events(body_of(response))}
    expected = {str(slot.uuid) for slot in Slot.objects.filter(creator=user) if overlaps(slot, since, until)}
    assert uids == expected
    assert 0 < len(expected) < 300


@pytest.mark.parametrize("parameters, field", [
    ({"from": "garbage"}, "from"),
    ({"until": "2026-02-30"}, "until"),
    ({"from": "2026-01-10T09:00:00"}, "from"),
    ({"until": "2026-01-10T09:00"}, "until"),
    ({"from": "10000-01-01"}, "from"),
    ({"until": "9999-12-31T23:00:00-05:00"}, "until"),
    ({"from": "0001-01-01T00:30:00+01:00"}, "from"),
    ({"from": ""}, "from"),
    ({"from": "2026-01-10", "until": "2026-01-10"}, "until"),
    ({"from": "2026-01-10", "until": "2026-01-09"}, "until"),
    ({"from": "2026-01-10T01:00:00+01:00", "until": "2026-01-10T00:00:00Z"}, "until"),
])
@pytest.mark.parametrize("fmt", EXPORTS)
def test_a_bad_window_is_422_naming_the_field(api, parameters, field, fmt):
    for form in ("json", "form", "query"):
        response = windowed(api, fmt, parameters, form)

        assert response.status_code == 422, form
        assert response["Content-Type"] == "application/json"
        assert list(response.json()) == [field, "request_id"], form


@pytest.mark.parametrize("value", [20260110, None, ["2026-01-10"], {"date": "2026-01-10"}])
def test_a_window_bound_that_is_not_a_string_is_422(api, value):
    response = windowed(api, "google", {"from": value}, "json")

    assert response.status_code == 422
    assert list(response.json()) == ["from", "request_id"]


def test_the_window_at_the_ends_of_the_calendar_is_read(api, user):
    SlotFactory(creator=user, title="first", start=datetime(1, 1, 1, tzinfo=UTC), all_day=True,
                end=datetime(1, 1, 1, tzinfo=UTC))
    SlotFactory(creator=user, title="last", start=datetime(9999, 12, 31, 12, tzinfo=UTC))

    first = windowed(api, "google", {"from": "0001-01-01", "until": "0001-01-02"}, "json")
    last = windowed(api, "google", {"from": "9999-12-31", "until": "9999-12-31T23:59:59Z"}, "json")

    assert titles("google", body_of(first)) == {"first"}
    assert titles("google", body_of(last)) == {"last"}


def test_the_slot_limit_counts_only_the_window(api, user, settings):
    settings.EXPORT_MAX_SLOTS = 3
    SlotFactory.create_batch(5, creator=user, start=at(1))
    SlotFactory.create_batch(3, creator=user, start=at(12))

    whole = windowed(api, "google", {}, "json")
    window = windowed(api, "google", WINDOW, "json")

    assert whole.status_code == 422
    assert whole.json()["max_slots"] == 3
    assert window.status_code == 200
    assert len(parse_events(body_of(window))) == 3


# The command ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", EXPORTS)
def test_export_slots_from_until_writes_the_window(user, edges, capfdbinary, fmt):
    call_command("export_slots", "--user", user.username, "--format", fmt, "--from", "2026-01-10",
                 "--until", "2026-01-20T00:00:00Z")

    assert titles(fmt, capfdbinary.readouterr().out) == INSIDE


@pytest.mark.parametrize("arguments, message", [
    (["--from", "garbage"], "--from 'garbage': Expected an ISO 8601 date"),
    (["--until", "2026-01-10T09:00"], "--until '2026-01-10T09:00': A date-time needs an offset"),
    (["--from", "10000-01-01"], "--from '10000-01-01': Expected an ISO 8601 date"),
    (["--from", "2026-01-10", "--until", "2026-01-10"], "--until '2026-01-10': Must be after --from '2026-01-10'."),
])
def test_export_slots_refuses_a_bad_window_in_one_line(user, arguments, message):
    with pytest.raises(CommandError) as refused:
        call_command("export_slots", "--user", user.username, *arguments)

    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)


# The admin --------------------------------------------------------------------------------------


def test_the_admin_preview_and_its_download_follow_the_window(staff_client, user, edges):
    preview = staff_client.get(reverse("admin:auth_user_export_preview", args=[user.pk]), WINDOW)
    download_url = preview.context["download_url"]
    download = staff_client.get(download_url)

    shown = preview.content.decode().split('<pre id="export-preview">')[1].split("</pre>")[0]
    assert 'type="date"' in preview.content.decode()
    assert titles("google", shown.replace("&#x27;", "'").encode()) == INSIDE
    assert download_url.endswith("?" + urlencode(WINDOW))
    assert titles("google", body_of(download)) == INSIDE


def test_the_group_download_follows_the_window(staff_client, user):
    group = SlotGroupFactory(owner=user)
    SlotFactory(creator=user, title="in", start=at(12), groups=[group])
    SlotFactory(creator=user, title="out", start=at(25), groups=[group])

    download = staff_client.get(reverse("admin:slots_slotgroup_export_download", args=[group.pk]), WINDOW)

    assert titles("google", body_of(download)) == {"in"}


def test_the_admin_refuses_an_empty_window(staff_client, user):
    window = {"from": "2026-01-10", "until": "2026-01-10"}
    preview = staff_client.get(reverse("admin:auth_user_export_preview", args=[user.pk]), window)
    download = staff_client.get(reverse("admin:auth_user_export_download", args=[user.pk]), window)

    assert "Must be after From." in preview.content.decode()
    assert 'id="export-preview"' not in preview.content.decode()
    assert download.status_code == 400


@given(st.from_regex(DOCUMENTED_FORM, fullmatch=True))
def test_every_bound_of_the_documented_form_is_read(text):
    # The schema shows this form, and the fuzz run generates it: none of it may be refused.
    assert window_bound(text).utcoffset() == timedelta(0)
