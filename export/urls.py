from django.urls import path

from export.feed_views import FeedCalendarView, FeedDetailView, FeedListView, FeedRotateView
from export.imports.views import ImportView
from export.models import ExportLog
from export.renderers import ICalendarRenderer, OutlookCSVRenderer, TimeslotJSONRenderer
from export.views import SlotExportView

urlpatterns = [
    # The original system's two names for the same calendar.
    path(
        "export/google",
        SlotExportView.as_view(renderer_classes=(ICalendarRenderer,), export_kind=ExportLog.Kind.GOOGLE),
        name="export-google",
    ),
    path(
        "export/ical",
        SlotExportView.as_view(renderer_classes=(ICalendarRenderer,), export_kind=ExportLog.Kind.ICAL),
        name="export-ical",
    ),
    path(
        "export/outlook",
        SlotExportView.as_view(renderer_classes=(OutlookCSVRenderer,), export_kind=ExportLog.Kind.OUTLOOK),
        name="export-outlook",
    ),
    path(
        "export/timeslot",
        SlotExportView.as_view(renderer_classes=(TimeslotJSONRenderer,), export_kind=ExportLog.Kind.TIMESLOT),
        name="export-timeslot",
    ),
    path("import", ImportView.as_view(), name="import"),
    # Subscriptions: managed with the user's token, fetched by calendar apps with the secret alone.
    path("feeds", FeedListView.as_view(), name="feeds"),
    path("feeds/<uuid:feed_id>", FeedDetailView.as_view(), name="feed"),
    path("feeds/<uuid:feed_id>/rotate", FeedRotateView.as_view(), name="feed-rotate"),
    path("feeds/<str:secret>.ics", FeedCalendarView.as_view(), name="feed-calendar"),
]
