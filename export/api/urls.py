from django.urls import path

from export.api.feed_views import FeedCalendarView, FeedDetailView, FeedListView, FeedRotateView
from export.api.import_views import ImportView
from export.api.serializers import CalendarExportParameters, CSVExportParameters, SlotExportParameters
from export.api.views import SlotExportView
from export.models import ExportLog
from export.renderers import EXPORT_FORMATS, IN_PARTS, ICalendarPartsRenderer

# The calendar's exports also come in parts; only the CSV names no zone of its own, so it takes one.
PARAMETERS = {**dict.fromkeys(IN_PARTS, CalendarExportParameters), "outlook": CSVExportParameters}

urlpatterns = [
    # The export log names each export by its endpoint.
    *(
        path(
            f"export/{name}",
            SlotExportView.as_view(
                renderer_classes=(renderer, ICalendarPartsRenderer) if name in IN_PARTS else (renderer,),
                parameters_class=PARAMETERS.get(name, SlotExportParameters),
                export_kind=ExportLog.Kind(name),
            ),
            name=f"export-{name}",
        )
        for name, renderer in EXPORT_FORMATS.items()
    ),
    path("import", ImportView.as_view(), name="import"),
    # Subscriptions: managed with the user's token, fetched by calendar apps with the secret alone.
    path("feeds", FeedListView.as_view(), name="feeds"),
    path("feeds/<uuid:feed_id>", FeedDetailView.as_view(), name="feed"),
    path("feeds/<uuid:feed_id>/rotate", FeedRotateView.as_view(), name="feed-rotate"),
    path("feeds/<str:secret>.ics", FeedCalendarView.as_view(), name="feed-calendar"),
]
