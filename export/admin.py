"""The operators' screens: the export log, subscription feeds, API tokens, and a user's export preview."""
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import ngettext
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from export.exports import SlotExport, export_for
from export.models import ApiToken, CalendarFeed, ExportLog
from export.previews import ExportPreviewMixin

User = get_user_model()


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

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    """Feeds are made through the API, which shows their secret once; here they are only seen and revoked."""

    list_display = ("owner", "scope", "detail_level", "created_at", "last_fetched_at")
    list_filter = ("created_at", "last_fetched_at")
    list_select_related = ("owner", "group")
    search_fields = ("owner__username", "owner__email", "group__name")
    # The secret's hash is left out of every screen: it is all a lookup by secret needs.
    exclude = ("secret_hash",)
    fields = ("uuid", "owner", "scope", "past_days", "future_days", "detail_level", "created_at", "last_fetched_at")
    readonly_fields = fields
    actions = ("revoke",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="scope", ordering="group__name")
    def scope(self, feed: CalendarFeed) -> str:
        return feed.group.name if feed.group else "all slots"

    @admin.action(description="Revoke selected feeds", permissions=("delete",))
    def revoke(self, request, queryset) -> None:
        _, deleted = queryset.delete()
        count = deleted.get(CalendarFeed._meta.label, 0)
        self.message_user(request, ngettext("Revoked %d feed.", "Revoked %d feeds.", count) % count)


# DRF's token admin lists every full key; this one shows whose tokens they are.
admin.site.unregister(TokenProxy)


@admin.register(ApiToken)
class ApiTokenAdmin(TokenAdmin):
    """Who has a token and since when; of the key, only its first characters. No adding: a key made
    here would be shown here."""

    list_display = ("user", "key_start", "created")
    list_select_related = ("user",)
    fields = ("user", "key_start", "created")
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="key")
    def key_start(self, token: ApiToken) -> str:
        return token.key_start


admin.site.unregister(User)


@admin.register(User)
class ExportUserAdmin(ExportPreviewMixin, UserAdmin):
    """Django's user admin, with the user's export preview."""

    def preview_export(self, user, **window) -> SlotExport:
        return export_for(user=user, **window)
