"""An operator's first steps on the command line, as the README gives them: the first staff user
(createsuperuser) and a user's API token (drf_create_token), which opens the API."""
import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from export.tests.ical_reader import parse_events
from export.tests.test_api import export
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db


def create_token(*argv: str) -> str:
    """The key drf_create_token prints."""
    out = io.StringIO()
    call_command("drf_create_token", *argv, stdout=out)
    (key,) = re.fullmatch(rf"Generated token ([0-9a-f]{{40}}) for user {argv[-1]}\n", out.getvalue()).groups()
    return key


def exported(key: str, header: str) -> list[str]:
    response = export(APIClient(), HTTP_AUTHORIZATION=header.format(key=key))
    assert response.status_code == 200, response.status_code
    return [str(event["UID"]) for event in parse_events(response.body)]


def test_the_first_staff_user_is_made_on_the_command_line(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long operator passphrase")

    call_command("createsuperuser", "--noinput", "--username", "operator", "--email", "op@example.org",
                 stdout=io.StringIO())

    operator = get_user_model().objects.get(username="operator")
    assert operator.is_staff and operator.is_superuser
    assert operator.check_password("a long operator passphrase")


@pytest.mark.parametrize("header", ["Token token={key}", "Token {key}"])
def test_a_token_made_on_the_command_line_opens_the_api(user, header):
    slot = SlotFactory(creator=user)

    key = create_token(user.username)

    assert exported(key, header) == [str(slot.uuid)]


def test_the_command_prints_the_users_key_again_and_replaces_it_with_reset(user):
    first = create_token(user.username)
    again = create_token(user.username)
    replaced = create_token("--reset", user.username)

    assert again == first != replaced
    assert export(APIClient(), HTTP_AUTHORIZATION=f"Token token={first}").status_code == 401
    assert exported(replaced, "Token token={key}") == []


def test_a_token_for_a_user_who_does_not_exist_is_an_error():
    with pytest.raises(CommandError, match="user nobody does not exist"):
        create_token("nobody")
