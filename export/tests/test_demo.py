"""What a newcomer does after `make run`: paste the printed curl and get the demo calendar."""
import io
import shlex
import subprocess

import pytest
from django.core.management import call_command

from export.tests.ical_reader import parse_calendar
from slots.models import Slot


@pytest.fixture
def demo_data(transactional_db):
    call_command("loaddata", "fixtures/demo.json", verbosity=0)


def printed_curl(base_url: str) -> str:
    out = io.StringIO()
    call_command("demo_curl", "--base-url", base_url, stdout=out)
    return out.getvalue().strip()


def test_the_printed_curl_is_the_documented_request_with_the_demo_token(demo_data):
    line = printed_curl("http://127.0.0.1:8000")

    assert line.startswith('curl "http://127.0.0.1:8000/v1/export/google" -d \'\' -X POST ')
    assert '-H "Content-Type: application/json" -H "Accept: text/plain" -H "Authorization: Token token=' in line


def test_the_token_is_made_once_and_printed_again(demo_data):
    assert printed_curl("http://x") == printed_curl("http://x")


def test_pasting_the_printed_curl_gets_the_demo_users_calendar(demo_data, live_server):
    command = printed_curl(live_server.url)

    result = subprocess.run(shlex.split(command), capture_output=True, check=True, timeout=60)

    calendar = parse_calendar(result.stdout)
    demo_slots = Slot.objects.filter(creator__username="demo").order_by("start", "uuid")
    assert [str(event["UID"]) for event in calendar.walk("VEVENT")] == [str(slot.uuid) for slot in demo_slots]
    assert len(demo_slots) == 6
