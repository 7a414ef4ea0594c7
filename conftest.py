import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from slots.tests.factories import TokenFactory, UserFactory


@pytest.fixture
def user(db):
    return UserFactory(username="nora")


@pytest.fixture
def token(user):
    return TokenFactory(user=user)


@pytest.fixture
def client_for(db):
    """An API client that sends a user's token in the seed's legacy form."""

    def make(user):
        token, _ = Token.objects.get_or_create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token token={token.key}")
        return client

    return make


@pytest.fixture
def api(client_for, user):
    return client_for(user)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2 costs half a second a user by design; the tests do not test it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
