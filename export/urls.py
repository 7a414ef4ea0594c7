from django.urls import path

from export.views import SlotExportView

urlpatterns = [
    # The original system's two names for the same calendar.
    path("export/google", SlotExportView.as_view(), name="export-google"),
    path("export/ical", SlotExportView.as_view(), name="export-ical"),
]
