"""The export log: one row for every export, feed fetch, import and export_slots run."""
import logging
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.signals import request_finished
from django.db import close_old_connections, connection
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate

from export.api.audit import record_export
from export.api.views import SlotExportView
from export.models import CalendarFeed, ExportLog
from export.tests.importing import IMPORT, calendar, upload
from export.tests.test_api import export, streams_from_its_first_chunk
from export.tests.test_feeds import create, fetch, path_of
from slots.models import Slot
from slots.tests.factories import SlotFactory, SlotGroupFactory, UserFactory

pytestmark = pytest.mark.django_db


def hang_up(response) -> None:
    """What the WSGI server does when the client goes away: close the response. (Without the signal
    that would also close the test's database connection, as Django's test client does.)"""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def the_row() -> ExportLog:
    (row,) = ExportLog.objects.all()
    return row


@pytest.mark.parametrize("kind", ["google", "ical", "outlook", "timeslot"])
def test_an_api_export_leaves_one_row_with_what_it_sent(api, user, kind):
    group = SlotGroupFactory(owner=user)
    SlotFactory.create_batch(3, creator=user, groups=[group])
    SlotFactory(creator=user)

    response = export(api, f"/v1/export/{kind}", {"group": str(group.uuid)}, REMOTE_ADDR="192.0.2.7")

    row = the_row()
    assert (row.user, row.kind, row.group, row.slot_count) == (user, kind, group, 3)
    assert (row.bytes, row.status, row.client_address) == (len(response.body), 200, "192.0.2.7")
    assert timedelta(0) < row.duration < timedelta(seconds=30)


def test_the_address_is_the_peers_not_the_forwarded_for_header(api):
    export(api, REMOTE_ADDR="2001:db8::1", HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert the_row().client_address == "2001:db8::1"


def test_an_export_refused_before_it_started_leaves_no_row(api):
    assert export(api, data={"group": "00000000-0000-0000-0000-000000000000"}).status_code == 404

    assert not ExportLog.objects.exists()


@streams_from_its_first_chunk
def test_a_client_that_goes_away_mid_stream_leaves_a_499_row(user):
    SlotFactory.create_batch(300, creator=user, description="long text " * 50)
    # Straight to the view: the test client wraps the stream in a closer of its own.
    request = APIRequestFactory().post("/v1/export/google", b"", content_type="application/json")
    force_authenticate(request, user)
    response = SlotExportView.as_view(export_kind="google")(request)
    stream = iter(response.streaming_content)
    received = next(stream) + next(stream)

    hang_up(response)

    row = the_row()
    assert (row.status, row.bytes) == (499, len(received))
    assert 0 < row.slot_count < 300


@streams_from_its_first_chunk
def test_a_stream_that_breaks_leaves_a_500_row(api, user):
    SlotFactory.create_batch(300, creator=user, description="long text " * 50)
    last = Slot.objects.filter(creator=user).order_by("start").last()
    with connection.cursor() as cursor:
        # An all-day slot in a zone that does not exist cannot become an event.
        cursor.execute(
            "UPDATE slots_slot SET all_day = %s, time_zone = 'Nowhere/Atlantis' WHERE id = %s", [True, last.pk]
        )

    response = api.post("/v1/export/google", b"", content_type="application/json")
    received = []
    with pytest.raises(Exception):
        for chunk in response.streaming_content:
            received.append(chunk)

    # The slot count is of the rows read: the last was read, then failed to become an event.
    row = the_row()
    assert (row.status, row.bytes, row.slot_count) == (500, len(b"".join(received)), 300)


def test_a_feed_fetch_leaves_a_row_and_its_revalidation_only_counts_when_every_fetch_is_recorded(
    settings, api, user
):
    # By default only the first fetch of a feed in FEED_FETCH_RECORD_SECONDS is (export/tests/test_abuse.py).
    settings.FEED_FETCH_RECORD_SECONDS = 0
    SlotFactory.create_batch(2, creator=user)
    path = path_of(create(api).json()["url"])

    full = APIClient().get(path, REMOTE_ADDR="198.51.100.4")
    full.body = b"".join(full.streaming_content)
    fetch(path, If_None_Match=full["ETag"])

    row = ExportLog.objects.get()
    assert (row.user, row.kind, row.status, row.slot_count) == (user, "feed", 200, 2)
    assert (row.bytes, row.client_address) == (len(full.body), "198.51.100.4")
    # A 304 sends nothing of the calendar: it is counted on the feed, with no row of its own.
    feed = CalendarFeed.objects.get()
    assert (feed.fetches_sent, feed.fetches_not_modified) == (1, 1)


def test_an_unknown_feed_secret_leaves_no_row(db):
    assert fetch("/v1/feeds/not-a-secret.ics").status_code == 404

    assert not ExportLog.objects.exists()


def test_an_import_leaves_a_row_with_its_counts(api, user):
    group = SlotGroupFactory(owner=user)
    SlotFactory(creator=user, source_uid="old@example.com", title="Same", groups=[group])
    body = calendar(
        "UID:new@example.com\nSUMMARY:New\nDTSTART:20261207T090000Z\nDTEND:20261207T100000Z",
        "UID:new2@example.com\nSUMMARY:New 2\nDTSTART:20261208T090000Z\nDTEND:20261208T100000Z",
    )

    response = api.post(
        IMPORT, {"file": SimpleUploadedFile("c.ics", body.encode()), "group": str(group.uuid)},
        format="multipart", REMOTE_ADDR="192.0.2.8",
    )
    assert response.status_code == 200

    row = the_row()
    assert (row.user, row.kind, row.group, row.slot_count, row.status) == (user, "import", group, 2, 200)
    assert (row.bytes, row.client_address) == (len(body.encode()), "192.0.2.8")


def test_a_refused_import_leaves_a_row_with_its_status(api, user):
    assert upload(api, "not a calendar").status_code == 422

    row = the_row()
    assert (row.kind, row.status, row.slot_count, row.bytes) == ("import", 422, 0, len("not a calendar"))


def test_an_anonymous_import_leaves_no_row(db):
    assert upload(APIClient(), calendar()).status_code == 401

    assert not ExportLog.objects.exists()


def test_the_command_leaves_a_row_with_exit_status_0(user, tmp_path):
    SlotFactory.create_batch(3, creator=user)
    output = tmp_path / "slots.ics"

    call_command("export_slots", "--user", user.username, "--output", str(output))

    row = the_row()
    assert (row.user, row.kind, row.slot_count, row.status) == (user, "command", 3, 0)
    assert (row.bytes, row.client_address) == (output.stat().st_size, None)


def test_a_failed_command_leaves_a_row_with_exit_status_1(db, tmp_path):
    with pytest.raises(Exception):
        call_command("export_slots", "--user", "nobody")

    row = the_row()
    assert (row.user, row.kind, row.status) == (None, "command", 1)


# A failed write -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_failed_write_is_logged_and_not_raised(caplog):
    # A user deleted meanwhile: the row's foreign key fails when its transaction commits.
    gone = UserFactory()
    get_user_model().objects.filter(pk=gone.pk).delete()

    with caplog.at_level(logging.ERROR, logger="export.audit"):
        record_export(user=gone, kind="google", status=200)

    assert not ExportLog.objects.exists()
    assert any("Could not log the google export" in record.getMessage() for record in caplog.records)


@pytest.mark.django_db(transaction=True)
@streams_from_its_first_chunk
def test_a_failed_write_does_not_fail_the_export(caplog):
    owner = UserFactory()
    response = APIClient()
    response.force_authenticate(owner)
    response = response.post("/v1/export/google", b"", content_type="application/json")
    # The user goes while the calendar streams; the stream ends, then the log's insert fails.
    get_user_model().objects.filter(pk=owner.pk).delete()

    with caplog.at_level(logging.ERROR, logger="export.audit"):
        body = b"".join(response.streaming_content)

    assert body.startswith(b"BEGIN:VCALENDAR") and body.endswith(b"END:VCALENDAR\r\n")
    assert not ExportLog.objects.exists()
    assert any("Could not log the google export" in record.getMessage() for record in caplog.records)
