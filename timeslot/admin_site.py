"""The admin site of the service: Django's, every ModelAdmin on it kept from answering about a secret,
and its login from taking unlimited guesses."""
from django.contrib import admin

from timeslot.admin_login import LimitedAdminLoginForm
from timeslot.admin_secrets import SecretSafeAdmin


class TimeslotAdminSite(admin.AdminSite):
    login_form = LimitedAdminLoginForm

    def register(self, model_or_iterable, admin_class=None, **options):
        # Here rather than in each admin: Django's own (the groups') and any added later are covered too.
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, SecretSafeAdmin):
            admin_class = type(
                admin_class.__name__, (SecretSafeAdmin, admin_class), {"__module__": admin_class.__module__}
            )
        super().register(model_or_iterable, admin_class, **options)

    def login(self, request, extra_context=None):
        response = super().login(request, extra_context)
        # A refused form is the login page again, with the refusal and how long to wait.
        form = (getattr(response, "context_data", None) or {}).get("form")
        if getattr(form, "retry_after", None) is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response
