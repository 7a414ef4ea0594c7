"""The admin login takes so many wrong passwords per username and per client address, then none.

Counted in the shared cache (export/api/throttling.py): failed logins per username from any address, and per
address against any username. Past either, a login is refused before its password is checked, the right
one too, until the period that began with the first failure is over; the page says for how long.
A successful login forgets its username's failures (only someone with the password can do that), never
its address's: an attacker with an account of their own would otherwise clear the count between guesses.
"""
import math

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import ngettext

from export.api.throttling import FailedAdminLoginThrottle, FailedAdminLoginUsernameThrottle


class LoginLimits:
    """The two counts one login attempt is held to."""

    def __init__(self, request, username: str):
        self.request = request
        self.username = FailedAdminLoginUsernameThrottle(username)
        self.throttles = (FailedAdminLoginThrottle(), self.username)

    def wait(self) -> int | None:
        """Seconds until this username and address may try again; None if they may now."""
        refusing = [throttle for throttle in self.throttles if not throttle.allow_request(self.request)]
        return max(throttle.wait() for throttle in refusing) if refusing else None

    def failed(self) -> None:
        for throttle in self.throttles:
            throttle.failed(self.request)

    def succeeded(self) -> None:
        self.username.forget(self.request)


class LimitedAdminLoginForm(AdminAuthenticationForm):
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "locked": "Too many failed logins for this username or from this address. Try again in %(wait)s.",
    }
    # Seconds to wait, when the form was refused for too many failures (the site answers 429 then).
    retry_after = None

    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if username is None or not password:
            # Nothing to check a password against: no guess, nothing counted.
            return super().clean()
        # The username as the form cleaned it (NFKC), as the backend will look it up.
        limits = LoginLimits(self.request, username)
        self.retry_after = limits.wait()
        if self.retry_after is not None:
            wait = in_words(self.retry_after)
            raise ValidationError(self.error_messages["locked"], code="locked", params={"wait": wait})
        try:
            cleaned_data = super().clean()
        except ValidationError:
            # A wrong password, an unknown or inactive user, a user who is not staff.
            limits.failed()
            raise
        limits.succeeded()
        return cleaned_data


def in_words(seconds: int) -> str:
    if seconds < 60:
        return ngettext("%d second", "%d seconds", seconds) % seconds
    minutes = math.ceil(seconds / 60)
    return ngettext("%d minute", "%d minutes", minutes) % minutes
