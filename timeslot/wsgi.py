"""WSGI entry point: gunicorn timeslot.wsgi:application."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "timeslot.settings")

application = get_wsgi_application()
