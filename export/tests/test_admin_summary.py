"""The export log's summary in the admin: exports a day by kind and status, the slowest and the largest, on
real rows; in the test client, and in a real browser."""
from datetime import UTC, datetime, time, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from export import log_summary
from export.models import ExportLog
from slots.tests.factories import SlotGroupFactory, UserFactory
from slots.tests.test_admin_browser import log_in

pytestmark = pytest.mark.django_db

SUMMARY = "admin:export_exportlog_summary"


def logged(*, days_ago: int, at: time = time(12), user=None, **fields) -> ExportLog:
    """A log row written at this time of the day that many days ago, in the current time zone."""
    values = {"kind": "google", "status": 200, "duration": timedelta(milliseconds=50), "bytes": 100, **fields}
    row = ExportLog.objects.create(user=user, **values)
    day = timezone.localdate() - timedelta(days=days_ago)
    row.created_at = timezone.make_aware(datetime.combine(day, at))
    ExportLog.objects.filter(pk=row.pk).update(created_at=row.created_at)
    return row


def day(days_ago: int):
    return timezone.localdate() - timedelta(days=days_ago)


def summary(client, **query):
    response = client.get(reverse(SUMMARY), query)
    assert response.status_code == 200
    return response


def test_exports_a_day_by_kind_and_status_are_the_rows_of_the_last_days(staff_client):
    for _ in range(3):
        logged(days_ago=0)
    logged(days_ago=0, status=429)
    logged(days_ago=0, kind="feed", status=304, at=time(0, 1))
    logged(days_ago=0, kind="feed", status=304, at=time(23, 59))
    logged(days_ago=1, kind="outlook")
    logged(days_ago=1, kind="import", status=422)
    logged(days_ago=13, kind="timeslot")
    for _ in range(5):
        logged(days_ago=14)

    shown = summary(staff_client).context["per_day"]

    assert shown == [
        {"day": day(0), "kind": "feed", "status": 304, "exports": 2},
        {"day": day(0), "kind": "google", "status": 200, "exports": 3},
        {"day": day(0), "kind": "google", "status": 429, "exports": 1},
        {"day": day(1), "kind": "import", "status": 422, "exports": 1},
        {"day": day(1), "kind": "outlook", "status": 200, "exports": 1},
        {"day": day(13), "kind": "timeslot", "status": 200, "exports": 1},
    ]
    # A longer window reaches the older rows.
    assert summary(staff_client, days=15).context["per_day"][-1] == {
        "day": day(14), "kind": "google", "status": 200, "exports": 5,
    }
    assert summary(staff_client, days=1).context["per_day"] == shown[:3]


def test_the_days_are_those_of_the_time_zone_the_service_runs_in(settings, staff_client):
    # Auckland is 12 or 13 hours ahead of UTC: a row of its early morning is of the day before in UTC.
    settings.TIME_ZONE = "Pacific/Auckland"
    early = logged(days_ago=1, at=time(0, 30))
    late = logged(days_ago=1, at=time(23, 30))
    assert early.created_at.astimezone(UTC).date() != late.created_at.astimezone(UTC).date()

    shown = summary(staff_client, days=2).context["per_day"]

    assert shown == [{"day": day(1), "kind": "google", "status": 200, "exports": 2}]


def test_the_days_are_counted_in_one_query(django_assert_num_queries):
    for days_ago in range(5):
        logged(days_ago=days_ago, kind="outlook")
        logged(days_ago=days_ago, status=499)

    with django_assert_num_queries(1) as captured:
        rows = log_summary.per_day(7)

    assert len(rows) == 10
    assert "GROUP BY" in captured.captured_queries[0]["sql"]


def test_the_slowest_and_the_largest_recent_exports_in_order_linked_to_their_rows(staff_client):
    nora = UserFactory(username="nora")
    group = SlotGroupFactory(owner=nora, name="Choir <b>")
    slow = [logged(days_ago=n % 3, user=nora, duration=timedelta(seconds=n), bytes=1000 - n) for n in range(1, 13)]
    large = logged(days_ago=2, user=nora, group=group, kind="timeslot", bytes=10**9)
    # Slower and larger than any, but older than the window.
    logged(days_ago=20, duration=timedelta(hours=1), bytes=10**12)

    response = summary(staff_client)

    slowest = response.context["slowest"]
    largest = response.context["largest"]
    assert slowest == sorted(slow, key=lambda row: row.duration, reverse=True)[:log_summary.TOP]
    assert largest == [large, *slow[:log_summary.TOP - 1]]
    page = response.content.decode()
    for row in [*slowest, *largest]:
        assert f'href="{reverse("admin:export_exportlog_change", args=[row.pk])}"' in page
    assert "Choir &lt;b&gt;" in page and "Choir <b>" not in page
    # Each link opens its row.
    opened = staff_client.get(reverse("admin:export_exportlog_change", args=[large.pk]))
    assert opened.status_code == 200 and str(10**9) in opened.content.decode()


def test_an_empty_log_says_so(staff_client):
    page = summary(staff_client).content.decode()

    assert 'id="per-day-empty"' in page


@pytest.mark.parametrize("days", ["0", "367", "-1", "soon"])
def test_a_window_out_of_bounds_is_the_form_with_its_error_and_no_summary(staff_client, days):
    response = summary(staff_client, days=days)

    assert "per_day" not in response.context
    assert response.context["window"].errors["days"]


def test_the_export_log_links_to_its_summary(staff_client):
    page = staff_client.get(reverse("admin:export_exportlog_changelist")).content.decode()

    assert f'href="{reverse(SUMMARY)}"' in page


def test_non_staff_are_sent_to_the_login_page(client, user):
    client.force_login(user)

    response = client.get(reverse(SUMMARY))

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_who_may_not_view_the_log_are_refused(client):
    operator = UserFactory(username="support", is_staff=True)
    operator.user_permissions.add(Permission.objects.get(codename="view_calendarfeed"))
    client.force_login(operator)

    assert client.get(reverse(SUMMARY)).status_code == 403
    operator.user_permissions.add(Permission.objects.get(codename="view_exportlog"))
    assert client.get(reverse(SUMMARY)).status_code == 200


# In a real browser ----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_staff_open_the_summary_from_the_log_and_a_row_from_it(browser_page, live_server, screenshot):
    UserFactory(username="operator", is_staff=True, is_superuser=True)
    nora = UserFactory(username="nora")
    logged(days_ago=0, user=nora, kind="outlook", bytes=2048)
    logged(days_ago=1, user=nora, kind="feed", status=304, bytes=0)
    slowest = logged(days_ago=2, user=nora, kind="import", status=422, duration=timedelta(seconds=9))
    page = browser_page
    log_in(page, live_server, "operator")
    page.wait_for_load_state("networkidle")
    failed, refused = [], []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on("response", lambda response: response.status >= 400 and refused.append((response.status, response.url)))

    page.goto(f"{live_server.url}{reverse('admin:export_exportlog_changelist')}")
    page.click("#export-log-summary")
    page.wait_for_load_state("networkidle")
    screenshot(page, "summary")
    days = page.locator("#per-day tbody tr").all_inner_texts()
    first_slowest = page.locator("#slowest tbody tr").first
    assert "import" in first_slowest.inner_text()
    first_slowest.locator("a").click()
    page.wait_for_load_state("networkidle")
    screenshot(page, "slowest-row")

    assert [" ".join(text.split()) for text in days] == [
        f"{day(0):%Y-%m-%d} outlook 200 1", f"{day(1):%Y-%m-%d} feed 304 1", f"{day(2):%Y-%m-%d} import 422 1",
    ]
    assert page.url.endswith(reverse("admin:export_exportlog_change", args=[slowest.pk]))
    assert (failed, refused) == ([], [])
