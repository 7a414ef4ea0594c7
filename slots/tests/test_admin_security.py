"""The admin against hostile data and hostile requests: markup in any field is shown as text,
an API token opens no admin page, and every admin POST needs its CSRF token.

Who may see which admin page at all (staff only) is in slots/tests/test_admin.py and export/tests/test_admin.py.
"""
from datetime import timedelta

import pytest
from django.contrib.admin import helpers
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from rest_framework.authtoken.models import Token

from export.models import CalendarFeed, ExportLog
from slots.models import Slot
from slots.tests.factories import SlotFactory, SlotGroupFactory, UserFactory

pytestmark = pytest.mark.django_db


def script(field: str) -> str:
    return f'<script>alert("{field}")</script>'


@pytest.fixture
def hostile():
    """A user, their group, a slot and a feed with a script in every text an operator sees."""
    # Saved without the form's validation, as an import or another client could store it.
    user = UserFactory(username=script("username"))
    group = SlotGroupFactory(owner=user, name=script("group"))
    slot = SlotFactory(creator=user, groups=[group], title=script("title"), description=script("description"),
                       location=script("location"))
    # Its own slot, of another user: a zone the writers cannot place has no business in the previews.
    zoned = SlotFactory(title="Zoned")
    Slot.objects.filter(pk=zoned.pk).update(time_zone=script("zone"))
    CalendarFeed.objects.create(owner=user, group=group, secret_hash="0" * 64)
    ExportLog.objects.create(user=user, group=group, kind="google", status=200, duration=timedelta(seconds=1))
    return {"user": user, "group": group, "slot": slot, "zoned": zoned}


SLOT_TEXT = ["title", "description", "location"]
# Each page: its URL name, the object it is about, and the hostile fields it shows.
PAGES = {
    "slot list": ("admin:slots_slot_changelist", None, ["title", "username", "group"]),
    "slot form": ("admin:slots_slot_change", "slot", ["title", "description", "location", "group"]),
    "slot form with a hostile zone": ("admin:slots_slot_change", "zoned", ["zone"]),
    "group list": ("admin:slots_slotgroup_changelist", None, ["group", "username"]),
    "group form": ("admin:slots_slotgroup_change", "group", ["group"]),
    "user list": ("admin:auth_user_changelist", None, ["username"]),
    "user form": ("admin:auth_user_change", "user", ["username"]),
    "user export preview": ("admin:auth_user_export_preview", "user", ["username", *SLOT_TEXT]),
    "group export preview": ("admin:slots_slotgroup_export_preview", "group", ["group", *SLOT_TEXT]),
    "feed list": ("admin:export_calendarfeed_changelist", None, ["username", "group"]),
    "export log": ("admin:export_exportlog_changelist", None, ["username"]),
}


@pytest.mark.parametrize("page", PAGES)
def test_a_script_in_any_field_is_shown_as_text_on_every_admin_page(staff_client, hostile, page):
    name, about, fields = PAGES[page]
    url = reverse(name, args=[hostile[about].pk]) if about else reverse(name)

    response = staff_client.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(" not in html
    assert [field for field in fields if escape(script(field)) not in html] == []


# An API token opens no admin page -----------------------------------------------------------------------


@pytest.mark.parametrize("is_staff", [False, True], ids=["user", "staff"])
@pytest.mark.parametrize("form", ["Token token={key}", 'Token token="{key}"', "Token {key}"])
def test_an_api_token_in_any_header_form_opens_no_admin_page(client, is_staff, form):
    """The admin knows sessions only: even an operator's own API token is no way in."""
    user = UserFactory(is_staff=is_staff, is_superuser=is_staff)
    header = {"HTTP_AUTHORIZATION": form.format(key=Token.objects.create(user=user).key)}
    slot = SlotFactory(creator=user)

    pages = [client.get(reverse(name), **header) for name in
             ("admin:index", "admin:slots_slot_changelist", "admin:export_exportlog_changelist")]
    action = client.post(reverse("admin:slots_slot_changelist"),
                         {"action": "download_ics", helpers.ACTION_CHECKBOX_NAME: [slot.pk]}, **header)

    for response in [*pages, action]:
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


# CSRF ---------------------------------------------------------------------------------------------------


@pytest.fixture
def strict_staff_client():
    """A browser that, like a real one, is held to the CSRF check the test client otherwise skips."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(username="operator", is_staff=True, is_superuser=True))
    return client


def csrf_token_of(client, url: str) -> str:
    """The token the admin's form carries, as a browser reads it from the page it posts."""
    return client.get(url).context["csrf_token"]


def slot_form_data(slot: Slot, **changes) -> dict:
    local = timezone.localtime(slot.start)
    data = {
        "title": slot.title, "description": slot.description, "location": slot.location,
        "start_0": local.date().isoformat(), "start_1": local.time().isoformat(), "end_0": "", "end_1": "",
        "time_zone": slot.time_zone, "visibility": slot.visibility, "creator": slot.creator.pk,
    }
    return {**data, **changes}


def test_an_admin_change_without_the_csrf_token_is_403_and_changes_nothing(strict_staff_client):
    slot = SlotFactory(title="Before")

    response = strict_staff_client.post(reverse("admin:slots_slot_change", args=[slot.pk]),
                                        slot_form_data(slot, title="After"))

    assert response.status_code == 403
    slot.refresh_from_db()
    assert slot.title == "Before"


def test_an_admin_change_with_the_csrf_token_is_saved(strict_staff_client):
    slot = SlotFactory(title="Before")
    url = reverse("admin:slots_slot_change", args=[slot.pk])

    token = csrf_token_of(strict_staff_client, url)

    response = strict_staff_client.post(url, slot_form_data(slot, title="After", csrfmiddlewaretoken=token))

    assert response.status_code == 302
    slot.refresh_from_db()
    assert slot.title == "After"


@pytest.mark.parametrize("with_token", [False, True], ids=["without", "with"])
def test_an_admin_action_needs_the_csrf_token(strict_staff_client, with_token):
    feed = CalendarFeed.objects.create(owner=UserFactory(), secret_hash="1" * 64)
    url = reverse("admin:export_calendarfeed_changelist")
    data = {"action": "revoke", helpers.ACTION_CHECKBOX_NAME: [feed.pk]}
    if with_token:
        data["csrfmiddlewaretoken"] = csrf_token_of(strict_staff_client, url)

    response = strict_staff_client.post(url, data)

    assert response.status_code == (302 if with_token else 403)
    assert CalendarFeed.objects.exists() is not with_token


def test_the_admin_login_needs_the_csrf_token():
    UserFactory(username="operator", password="correct horse battery staple", is_staff=True)
    browser = Client(enforce_csrf_checks=True)
    url = reverse("admin:login")
    credentials = {"username": "operator", "password": "correct horse battery staple", "next": "/admin/"}

    refused = browser.post(url, credentials)
    accepted = browser.post(url, {**credentials, "csrfmiddlewaretoken": csrf_token_of(browser, url)})

    assert refused.status_code == 403
    assert accepted.status_code == 302 and accepted["Location"] == "/admin/"
