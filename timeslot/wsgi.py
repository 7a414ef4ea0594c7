"""WSGI entry point: gunicorn timeslot.wsgi:application."""
import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "timeslot.settings")

application = get_wsgi_application()

# Load the views now rather than at the first request, then take everything loaded so far out of
# the garbage collector's full passes: it lives as long as the process, and walking it cost a
# request 50-150 ms now and then (docs/performance.md). https://docs.python.org/3/library/gc.html#gc.freeze
get_resolver().url_patterns
gc.freeze()
