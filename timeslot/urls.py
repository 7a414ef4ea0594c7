from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1/", include("export.urls")),
]

# Unhandled errors answer JSON, like every other error of the API; a database that is down, 503.
handler500 = "timeslot.exceptions.server_error"
# An API path that no route takes is 404 in JSON too.
handler404 = "timeslot.exceptions.page_not_found"
