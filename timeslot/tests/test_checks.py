"""The project's own deployment checks (timeslot/checks.py), through `manage.py check --deploy`."""
import re
from io import StringIO

import pytest
from django.core.management import call_command

from conftest import REDIS_URL


def deploy_check_ids() -> set[str]:
    """The ids of the project's own issues that `check --deploy` reports with the settings in force."""
    out = StringIO()
    call_command("check", deploy=True, stdout=out, stderr=out)
    return set(re.findall(r"\((timeslot\.\w+)\)", out.getvalue()))


def test_a_cache_of_each_process_is_a_warning_and_a_shared_one_is_not(settings):
    # conftest's fresh_cache: the tests' caches are local memory.
    assert "timeslot.W001" in deploy_check_ids()

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    assert "timeslot.W001" not in deploy_check_ids()

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    assert "timeslot.W001" in deploy_check_ids()


@pytest.mark.parametrize("proxy_ssl_header, proxies, warned", [
    (("HTTP_X_FORWARDED_PROTO", "https"), 0, True),
    (("HTTP_X_FORWARDED_PROTO", "https"), 1, False),
    (None, 0, False),
])
def test_a_proxy_whose_forwarded_for_is_not_read_is_a_warning(settings, proxy_ssl_header, proxies, warned):
    settings.SECURE_PROXY_SSL_HEADER = proxy_ssl_header
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": proxies}

    assert ("timeslot.W002" in deploy_check_ids()) is warned


def test_the_manifest_storage_without_collectstatic_is_a_warning_and_collected_it_is_not(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES, "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    settings.STATIC_ROOT = tmp_path / "static"
    assert "timeslot.W003" in deploy_check_ids()

    call_command("collectstatic", interactive=False, verbosity=0)
    assert "timeslot.W003" not in deploy_check_ids()


def test_the_plain_storage_of_development_needs_no_collectstatic(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "static"

    assert "timeslot.W003" not in deploy_check_ids()
