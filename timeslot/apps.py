from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class TimeslotAdminConfig(AdminConfig):
    """django.contrib.admin, with the service's admin site as admin.site."""

    default_site = "timeslot.admin_site.TimeslotAdminSite"


class TimeslotConfig(AppConfig):
    """The project's own: its deployment checks (timeslot/checks.py)."""

    name = "timeslot"
    verbose_name = "Timeslot Export"

    def ready(self) -> None:
        from timeslot import checks  # noqa: F401 (registers them)
