"""The admin's export preview: the calendar POST /v1/export/google would send, on a page and as a download,
whole or in the parts that Google Calendar imports.

A thin shell like the API view and the command: the same selector, mapping and writer.
"""
import dataclasses
from datetime import datetime, time, timezone

from django import forms
from django.conf import settings
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import content_disposition_header

from export.api.views import streamed
from export.exports import SlotExport
from export.renderers import ICalendarPartsRenderer, ICalendarRenderer
from timeslot.db_routers import replica_reads

# The page shows the calendar's first events only: a user's 100,000 would make a page of 67 MB.
PREVIEW_EVENTS = 200


def calendar_download(export: SlotExport) -> StreamingHttpResponse:
    """The export as the API's google endpoint streams it, as an attachment."""
    # .ics, as the admin's buttons say; the API keeps the .ical that the existing clients get.
    return attachment(export, ICalendarRenderer(), "ics")


def attachment(export: SlotExport, renderer, extension: str) -> StreamingHttpResponse:
    """The export streamed by the renderer as a file to save. Not in the export log: its kinds are what
    users export; an operator's look is in the admin's own history if anywhere."""
    response = streamed(export, renderer, audit=None)
    response["Content-Disposition"] = content_disposition_header(True, export.filename(extension))
    return response


class WindowForm(forms.Form):
    """The preview's window: two days, each its midnight UTC as the API reads a date; the download follows
    them. Left empty, the whole export."""

    # The API's names in the query string (`from` is a Python keyword, hence the class namespace's dict).
    locals()["from"] = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="Until", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        bounds = super().clean()
        if bounds.get("from") and bounds.get("until") and bounds["until"] <= bounds["from"]:
            self.add_error("until", "Must be after From.")
        return bounds

    def window(self) -> dict[str, datetime | None]:
        """export_for's since and until."""
        midnight = {name: day and datetime.combine(day, time(), tzinfo=timezone.utc)
                    for name, day in self.cleaned_data.items()}
        return {"since": midnight["from"], "until": midnight["until"]}


def parts_download(export: SlotExport) -> StreamingHttpResponse:
    """The same calendar as the ZIP of parts that the API sends for Accept: application/zip."""
    return attachment(export, ICalendarPartsRenderer(), "zip")


def estimated_octets(shown: bytes, shown_events: int, total: int) -> int:
    """The whole calendar's size, from its first events' average: exact when they are all of it."""
    if shown_events == 0 or shown_events == total:
        return len(shown)
    return len(shown) * total // shown_events


class ExportPreviewMixin:
    """An "Export preview" page and its download for each object of a ModelAdmin, linked from its change page."""

    change_form_template = "admin/export/change_form_with_preview.html"

    def preview_export(self, obj, **window) -> SlotExport:
        """The export the object's preview shows, within export_for's window (since, until) if given."""
        raise NotImplementedError

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        # Before the ModelAdmin's own: its "<path:object_id>/" catches everything below an object.
        return [
            path(
                "<path:object_id>/export-preview/",
                self.admin_site.admin_view(self.export_preview_view),
                name="%s_%s_export_preview" % info,
            ),
            path(
                "<path:object_id>/export-preview/download/",
                self.admin_site.admin_view(self.export_download_view),
                name="%s_%s_export_download" % info,
            ),
            path(
                "<path:object_id>/export-preview/parts/",
                self.admin_site.admin_view(self.export_parts_view),
                name="%s_%s_export_parts" % info,
            ),
            *super().get_urls(),
        ]

    def previewed_object(self, request, object_id: str):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        return obj

    def export_preview_view(self, request, object_id: str):
        obj = self.previewed_object(request, object_id)
        window = WindowForm(request.GET)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Export preview: {obj}",
            "opts": self.opts,
            "original": obj,
            "window": window,
        }
        if not window.is_valid():
            return TemplateResponse(request, "admin/export/preview.html", context)
        export = self.preview_export(obj, **window.window())
        # Read as the user's export would be: from the replica, unless it has not replayed their last write.
        with replica_reads(export.user):
            total = export.slots.count()
            # The same calendar cut to its first events; the download holds them all.
            first = dataclasses.replace(export, slots=export.slots[:PREVIEW_EVENTS])
            calendar = b"".join(first.chunks(ICalendarRenderer()))
        shown = min(total, PREVIEW_EVENTS)
        size = estimated_octets(calendar, shown, total)
        url = f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_export_%s"
        # The downloads follow the window.
        query = f"?{request.GET.urlencode()}" if request.GET else ""
        context |= {
            "export": export,
            "calendar": calendar.decode(),
            "total": total,
            "shown": shown,
            "size": size,
            "size_is_estimated": shown < total,
            "budget": settings.EXPORT_PART_MAX_BYTES,
            "over_budget": size > settings.EXPORT_PART_MAX_BYTES,
            "download_url": reverse(url % "download", args=(object_id,)) + query,
            "parts_url": reverse(url % "parts", args=(object_id,)) + query,
        }
        return TemplateResponse(request, "admin/export/preview.html", context)

    def export_download_view(self, request, object_id: str):
        return self.windowed_download(request, object_id, calendar_download)

    def export_parts_view(self, request, object_id: str):
        return self.windowed_download(request, object_id, parts_download)

    def windowed_download(self, request, object_id: str, download):
        """The download of the previewed object's export in the window the query string names; 400 if it names
        a bad one."""
        window = WindowForm(request.GET)
        if not window.is_valid():
            return HttpResponseBadRequest(window.errors.as_text(), content_type="text/plain; charset=utf-8")
        export = self.preview_export(self.previewed_object(request, object_id), **window.window())
        # The stream is drawn within the scope too (export/api/views.py, streamed).
        with replica_reads(export.user):
            return download(export)
