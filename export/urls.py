from django.urls import path

from export.imports.views import ImportView
from export.renderers import ICalendarRenderer, OutlookCSVRenderer, TimeslotJSONRenderer
from export.views import SlotExportView

urlpatterns = [
    # The original system's two names for the same calendar.
    path("export/google", SlotExportView.as_view(renderer_classes=(ICalendarRenderer,)), name="export-google"),
    path("export/ical", SlotExportView.as_view(renderer_classes=(ICalendarRenderer,)), name="export-ical"),
    path("export/outlook", SlotExportView.as_view(renderer_classes=(OutlookCSVRenderer,)), name="export-outlook"),
    path("export/timeslot", SlotExportView.as_view(renderer_classes=(TimeslotJSONRenderer,)), name="export-timeslot"),
    path("import", ImportView.as_view(), name="import"),
]
