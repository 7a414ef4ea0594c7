"""The admin site of the service: Django's, every ModelAdmin on it kept from answering about a secret."""
from django.contrib import admin

from timeslot.admin_secrets import SecretSafeAdmin


class TimeslotAdminSite(admin.AdminSite):
    def register(self, model_or_iterable, admin_class=None, **options):
        # Here rather than in each admin: Django's own (the groups') and any added later are covered too.
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, SecretSafeAdmin):
            admin_class = type(
                admin_class.__name__, (SecretSafeAdmin, admin_class), {"__module__": admin_class.__module__}
            )
        super().register(model_or_iterable, admin_class, **options)
