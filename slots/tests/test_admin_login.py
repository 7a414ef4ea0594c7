"""The admin login takes so many wrong passwords per username and per client address, then refuses, the
right password too, with a 429 that says how long to wait: through the real login form, with its CSRF
token, on local memory and on a real Redis."""
import logging
import math
import re

import pytest
from django.test import Client
from django.urls import reverse

from slots.tests.factories import UserFactory
from slots.tests.test_admin_security import csrf_token_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shared_cache")]

PASSWORD = "correct horse battery staple"
ATTACKER = "203.0.113.7"
NEIGHBOUR = "198.51.100.20"
LOGIN = "/admin/login/"
# The defaults (THROTTLE_ADMIN_LOGIN_USERNAME_RATE, THROTTLE_ADMIN_LOGIN_ADDRESS_RATE).
PER_USERNAME, PER_ADDRESS, PERIOD = 10, 20, 15 * 60
REFUSAL = r"Too many failed logins for this username or from this address\. Try again in (\d+) minutes\."


@pytest.fixture
def boss():
    return UserFactory(username="boss", password=PASSWORD, is_staff=True, is_superuser=True)


def log_in(username: str, password: str, address: str = ATTACKER):
    """The admin's login form as a browser posts it: the page first, then the form with its CSRF token."""
    browser = Client(enforce_csrf_checks=True, REMOTE_ADDR=address)
    token = csrf_token_of(browser, LOGIN)
    credentials = {"username": username, "password": password, "next": "/admin/", "csrfmiddlewaretoken": token}
    response = browser.post(LOGIN, credentials)
    response.logged_in = browser.get(reverse("admin:index")).status_code == 200
    return response


def fail(times: int, username: str = "boss", address: str = ATTACKER) -> None:
    for _ in range(times):
        response = log_in(username, "Tr0ub4dor&3", address)
        assert response.status_code == 200 and not response.logged_in
        assert "Please enter the correct username and password" in response.content.decode()


def assert_refused(response) -> None:
    """429, the right password too, with the wait in Retry-After and in words on the login page."""
    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert 60 < retry_after <= PERIOD
    refusal = re.search(REFUSAL, response.content.decode())
    assert refusal and int(refusal[1]) == math.ceil(retry_after / 60)
    assert not response.logged_in


def test_after_10_wrong_passwords_for_a_username_its_right_password_is_refused_with_429_and_retry_after(boss):
    fail(PER_USERNAME)

    assert_refused(log_in("boss", PASSWORD))


def test_a_username_that_failed_from_10_addresses_is_refused_from_every_address(boss):
    for number in range(PER_USERNAME):
        fail(1, address=f"192.0.2.{number + 1}")

    assert_refused(log_in("boss", PASSWORD, address=NEIGHBOUR))


def test_a_login_refused_for_too_many_failures_checks_no_password(boss, django_assert_num_queries):
    fail(PER_USERNAME)
    browser = Client(enforce_csrf_checks=True, REMOTE_ADDR=ATTACKER)
    token = csrf_token_of(browser, LOGIN)

    with django_assert_num_queries(0):
        response = browser.post(LOGIN, {"username": "boss", "password": PASSWORD, "csrfmiddlewaretoken": token})

    assert response.status_code == 429


def test_after_20_failures_from_one_address_against_any_usernames_it_is_refused_and_others_are_not(boss):
    UserFactory(username="operator", password=PASSWORD, is_staff=True)
    for number in range(PER_ADDRESS):
        fail(1, username=f"guess{number % 3}")

    assert_refused(log_in("operator", PASSWORD))
    assert log_in("operator", PASSWORD, address=NEIGHBOUR).logged_in


def test_a_success_forgets_its_usernames_failures_but_not_its_addresses(boss):
    """An attacker logging in to an account of their own between guesses gains nothing."""
    UserFactory(username="mallory", password=PASSWORD, is_staff=True)
    fail(PER_USERNAME - 1, username="mallory")
    assert log_in("mallory", PASSWORD).logged_in

    # mallory's own count starts again: 9 more of her failures would not lock her...
    fail(PER_USERNAME - 1, username="mallory")
    # ...but her address has now failed 18 times: 2 more, and it is refused, her right password too.
    fail(PER_ADDRESS - 2 * (PER_USERNAME - 1), username="boss")
    assert_refused(log_in("mallory", PASSWORD))


def test_a_staff_users_session_does_not_make_guesses_at_another_password_free(boss):
    """A logged-in operator who posts the login form for someone else is counted as anyone is."""
    browser = Client(enforce_csrf_checks=True, REMOTE_ADDR=ATTACKER)
    browser.force_login(UserFactory(username="mallory", is_staff=True))
    for _ in range(PER_USERNAME):
        # Signed in, the login page itself redirects to the index; its form posts all the same.
        token = csrf_token_of(browser, reverse("admin:index"))
        guess = {"username": "boss", "password": "guess", "csrfmiddlewaretoken": token}
        assert browser.post(LOGIN, guess).status_code == 200

    assert_refused(log_in("boss", PASSWORD, address=NEIGHBOUR))


def test_usernames_differing_in_case_or_width_share_one_count(boss):
    fail(PER_USERNAME // 2, username="BOSS")
    # Fullwidth letters, which the form folds (NFKC) into "boss" before the password is checked.
    fail(PER_USERNAME - PER_USERNAME // 2, username="ｂｏｓｓ")

    assert_refused(log_in("boss", PASSWORD))


def test_the_login_limits_are_configurable(settings, boss):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "admin_login_username": "2/min",
        "admin_login_address": None}}
    fail(2)

    refused = log_in("boss", PASSWORD)

    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60
    assert "Try again in " in refused.content.decode()
    fail(1, username="operator")


def test_with_the_cache_unreachable_the_login_lets_operators_in_and_says_so_in_the_log(
    unreachable_cache, boss, caplog
):
    with caplog.at_level(logging.ERROR):
        fail(1)
        assert log_in("boss", PASSWORD).logged_in

    unreachable = [record.getMessage() for record in caplog.records if "cache is unreachable" in record.getMessage()]
    assert any("FailedAdminLoginThrottle.allow_request" in message for message in unreachable)
    assert any("FailedAdminLoginUsernameThrottle.failed" in message for message in unreachable)
    assert any("FailedAdminLoginUsernameThrottle.forget" in message for message in unreachable)
