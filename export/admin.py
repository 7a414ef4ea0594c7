"""The operators' screens: the export log and its summary, subscription feeds, API tokens, and a user's export
preview."""
from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import ngettext
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from export import log_summary
from export.exports import SlotExport, export_for
from export.models import ApiToken, CalendarFeed, ExportLog
from export.previews import ExportPreviewMixin

User = get_user_model()


class SummaryWindowForm(forms.Form):
    days = forms.IntegerField(
        label="Last days", min_value=1, max_value=log_summary.MAX_DAYS, required=False,
        widget=forms.NumberInput(attrs={"placeholder": log_summary.DEFAULT_DAYS}),
    )


@admin.register(ExportLog)
class ExportLogAdmin(admin.ModelAdmin):
    """An audit log: read, filtered and searched, never written here."""

    list_display = (
        "created_at", "user", "kind", "group", "slot_count", "bytes", "duration", "status", "client_address",
        "request_id",
    )
    list_filter = ("kind", "status", "created_at")
    # A request's id whole (exact: as its answer's X-Request-Id and its log lines say it).
    search_fields = ("user__username", "user__email", "request_id__exact")
    list_select_related = ("user", "group")
    readonly_fields = list_display
    date_hierarchy = "created_at"
    # Links to the summary (summary_view).
    change_list_template = "admin/export/exportlog/change_list.html"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        # Before the ModelAdmin's own: its "<path:object_id>/" would take "summary/" for a row's id.
        summary = path("summary/", self.admin_site.admin_view(self.summary_view), name="export_exportlog_summary")
        return [summary, *super().get_urls()]

    def summary_view(self, request):
        """Exports a day by kind and status over the last days (?days=, 14 unless said), and the
        slowest and the largest of them, each linked to its row."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        window = SummaryWindowForm(request.GET)
        context = {
            **self.admin_site.each_context(request),
            "title": "Export log summary",
            "opts": self.opts,
            "window": window,
        }
        if window.is_valid():
            days = window.cleaned_data["days"] or log_summary.DEFAULT_DAYS
            context |= {
                "days": days,
                "since": log_summary.window_start(days),
                "per_day": log_summary.per_day(days),
                "slowest": log_summary.slowest(days),
                "largest": log_summary.largest(days),
                "top": log_summary.TOP,
            }
        return TemplateResponse(request, "admin/export/exportlog/summary.html", context)


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    """Feeds are made through the API, which shows their secret once; here they are only seen and revoked."""

    # The fetch counts are written once a FEED_FETCH_RECORD_SECONDS: the last interval's may still be in the cache.
    list_display = ("owner", "scope", "detail_level", "created_at", "last_fetched_at", "fetches_sent",
                    "fetches_not_modified", "clients")
    list_filter = ("created_at", "last_fetched_at")
    list_select_related = ("owner", "group")
    search_fields = ("owner__username", "owner__email", "group__name")
    # The secret's hash is left out of every screen: it is all a lookup by secret needs.
    exclude = ("secret_hash",)
    fields = (
        "uuid", "owner", "scope", "past_days", "future_days", "detail_level", "created_at", "last_fetched_at",
        "fetches_sent", "fetches_not_modified", "clients",
    )
    readonly_fields = fields
    actions = ("revoke",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="scope", ordering="group__name")
    def scope(self, feed: CalendarFeed) -> str:
        return feed.group.name if feed.group else "all slots"

    @admin.display(description="fetches by client")
    def clients(self, feed: CalendarFeed) -> str:
        # The most frequent first: "google 12, apple 3".
        counts = sorted(feed.fetch_clients.items(), key=lambda item: (-item[1], item[0]))
        return ", ".join(f"{kind} {count:,}" for kind, count in counts) or "-"

    @admin.action(description="Revoke selected feeds", permissions=("delete",))
    def revoke(self, request, queryset) -> None:
        _, deleted = queryset.delete()
        count = deleted.get(CalendarFeed._meta.label, 0)
        self.message_user(request, ngettext("Revoked %d feed.", "Revoked %d feeds.", count) % count)


# DRF's token admin lists every full key; this one shows whose tokens they are.
admin.site.unregister(TokenProxy)


class NewApiTokenForm(forms.ModelForm):
    """A token for a user who has none: one key a user, and replacing one is deleting it first."""

    class Meta:
        model = ApiToken
        fields = ("user",)

    def clean_user(self):
        user = self.cleaned_data["user"]
        if ApiToken.objects.filter(user=user).exists():
            raise forms.ValidationError(f"{user} has an API token already: delete it to make a new key.")
        return user


@admin.register(ApiToken)
class ApiTokenAdmin(TokenAdmin):
    """Who has a token and since when; of the key, only its first characters. A token is added for a user
    with a key the server makes, shown whole on the page that answers the adding, and never again."""

    list_display = ("user", "key_start", "created")
    list_select_related = ("user",)
    fields = ("user", "key_start", "created")
    readonly_fields = fields
    # The user is picked in the user list's popup, as a slot's creator is: no select of every user.
    raw_id_fields = ("user",)
    created_template = "admin/export/apitoken/created.html"

    def get_form(self, request, obj=None, **kwargs):
        # As Django's user admin takes its add_form: the admin's widgets (the user's popup) still apply.
        if obj is None:
            kwargs["form"] = NewApiTokenForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        # Adding takes the user only: the key is never typed in, so it cannot be one that someone chose.
        return ("user",) if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def add_view(self, request, form_url="", extra_context=None):
        # One save: its answer is the key's page (a second token for the same user is refused by the form).
        extra_context = {"show_save_and_add_another": False, "show_save_and_continue": False, **(extra_context or {})}
        return super().add_view(request, form_url, extra_context)

    def response_add(self, request, obj, post_url_continue=None):
        """The whole key, this once, as the answer to the POST that made it: neither a message (the messages'
        cookie would carry it) nor a redirect (it would have to be stored to outlive one)."""
        context = {
            **self.admin_site.each_context(request),
            "title": f"{obj.user}'s API token",
            "opts": self.opts,
            "token": obj,
        }
        response = TemplateResponse(request, self.created_template, context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.display(description="key")
    def key_start(self, token: ApiToken) -> str:
        return token.key_start


admin.site.unregister(User)


@admin.register(User)
class ExportUserAdmin(ExportPreviewMixin, UserAdmin):
    """Django's user admin, with the user's export preview."""

    def preview_export(self, user, **window) -> SlotExport:
        return export_for(user=user, **window)
