"""What export_slots and import_slots read from their command line, with one-line errors."""
import uuid
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import CommandError

from export.formats.ical.zones import is_iana
from export.windows import BadBound, refuse_empty_window, window_bound


def user_named(username: str) -> AbstractBaseUser:
    User = get_user_model()
    try:
        return User.objects.get(**{User.USERNAME_FIELD: username})
    except User.DoesNotExist:
        raise CommandError(f"No user named {username!r}.")


def group_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CommandError(f"--group must be a uuid, not {value!r}.")


def group_not_found(value: str, owner: AbstractBaseUser) -> CommandError:
    """The error for a group that does not exist or that the user may not see: the same words for both."""
    return CommandError(f"No slot group {value} for user {owner.get_username()!r}.")


def iana_time_zone(value: str) -> str:
    if not is_iana(value):
        raise CommandError(f"--time-zone must be an IANA time zone, not {value!r}.")
    return value


def window(since: str | None, until: str | None) -> dict[str, datetime | None]:
    """export_for's since and until from --from and --until, read as the API reads `from` and `until`."""
    bounds = {}
    for option, value in (("from", since), ("until", until)):
        try:
            bounds[option] = None if value is None else window_bound(value)
        except BadBound as error:
            raise CommandError(f"--{option} {value!r}: {error}")
    try:
        refuse_empty_window(bounds["from"], bounds["until"])
    except BadBound:
        raise CommandError(f"--until {until!r}: Must be after --from {since!r}.")
    return {"since": bounds["from"], "until": bounds["until"]}
