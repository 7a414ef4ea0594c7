"""The project's own deployment checks, run by `manage.py check --deploy`: settings that Django's checks accept
but that break what this service promises in production (README, Configuration: timeslot.W001 ...)."""
from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core import checks
from rest_framework.settings import api_settings

# Caches whose counts no other process sees (the dummy one counts nothing at all).
PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}


@checks.register(checks.Tags.security, deploy=True)
def check_shared_cache(app_configs, **kwargs):
    backend = settings.CACHES["default"]["BACKEND"]
    if backend not in PER_PROCESS_CACHES:
        return []
    return [checks.Warning(
        f"The cache is each process's own ({backend.rpartition('.')[2]}): every gunicorn worker counts the "
        "throttles and a user's running exports for itself, so a client gets the rate once per worker.",
        hint="Set REDIS_URL to a Redis that every worker shares.",
        id="timeslot.W001",
    )]


@checks.register(checks.Tags.security, deploy=True)
def check_proxies_counted(app_configs, **kwargs):
    if settings.SECURE_PROXY_SSL_HEADER is None or api_settings.NUM_PROXIES:
        return []
    return [checks.Warning(
        "SECURE_PROXY_SSL_HEADER says a proxy stands in front, but NUM_PROXIES is 0: X-Forwarded-For is not read, "
        "so every client has the proxy's address, shares its failed-authentication count and is logged as it.",
        hint="Set NUM_PROXIES to the number of proxies of yours that append to X-Forwarded-For.",
        id="timeslot.W002",
    )]


@checks.register(checks.Tags.staticfiles, deploy=True)
def check_static_files_collected(app_configs, **kwargs):
    # With the manifest storage, a page names each file by the hashed name the manifest holds: none, and every
    # admin page and /v1/docs/ is a 500.
    if not isinstance(staticfiles_storage, ManifestFilesMixin) or staticfiles_storage.exists(
        staticfiles_storage.manifest_name
    ):
        return []
    return [checks.Warning(
        f"STATIC_ROOT ({settings.STATIC_ROOT}) holds no {staticfiles_storage.manifest_name}: the admin's pages and "
        "/v1/docs/ fail until collectstatic has run.",
        hint="Run `manage.py collectstatic --noinput` with the same settings.",
        id="timeslot.W003",
    )]
