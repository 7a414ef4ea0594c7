from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1/", include("export.urls")),
]

# Unhandled errors answer JSON, like every other error of the API.
handler500 = "rest_framework.exceptions.server_error"
