from django.contrib.admin.apps import AdminConfig


class TimeslotAdminConfig(AdminConfig):
    """django.contrib.admin, with the service's admin site as admin.site."""

    default_site = "timeslot.admin_site.TimeslotAdminSite"
