"""No admin screen answers a question about a secret.

A changelist that takes ?auth_token__key__startswith=ab answers "1 result" or "0 results": a few hundred
requests recover a whole API token. Django lets a lookup through one relation pass, and an API token's key
is its primary key, so the relation itself (?auth_token=...) compares the key too. Sorting by a secret, or
searching one, tells as much. The rule here is read from the models: a lookup path is refused if any field
on it is a secret, or if it compares a relation whose value is a secret.
"""
from django.apps import apps
from django.conf import settings
from django.contrib.admin.exceptions import DisallowedModelAdminToField
from django.contrib.admin.options import IS_POPUP_VAR, TO_FIELD_VAR
from django.core import checks
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Field
from django.db.models.constants import LOOKUP_SEP

# Every stored value that is, or opens the way to, a credential: an API token's key (its primary key),
# a feed secret's hash (all a lookup by secret needs), a user's password hash.
SECRET_FIELDS = ("authtoken.Token.key", "export.CalendarFeed.secret_hash", f"{settings.AUTH_USER_MODEL}.password")
# A relation followed by this compares only whether there is a related row.
PRESENCE_LOOKUP = "isnull"


def secret_fields() -> set[Field]:
    fields = set()
    for name in SECRET_FIELDS:
        model, field = name.rsplit(".", 1)
        fields.add(apps.get_model(model)._meta.get_field(field))
    return fields


def reaches_secret(model, path: str) -> bool:
    """Whether a lookup path (fields across relations, then lookups or transforms, "pk" anywhere) compares,
    orders or searches by a secret field."""
    secrets = secret_fields()
    opts = model._meta
    parts = path.split(LOOKUP_SEP)
    for index, part in enumerate(parts):
        try:
            field = opts.pk if part == "pk" else opts.get_field(part)
        except FieldDoesNotExist:
            # A lookup or a transform: the path's fields end here.
            return False
        if field in secrets:
            return True
        path_infos = getattr(field, "path_infos", None)
        if not path_infos:
            # Not a relation (or a generic one, which no query follows): the rest are lookups or transforms.
            return False
        target = path_infos[-1]
        following = parts[index + 1] if index + 1 < len(parts) else None
        relation_compared = following is None or not has_field(target.to_opts, following)
        if relation_compared and following != PRESENCE_LOOKUP and secrets.intersection(target.target_fields):
            # ?auth_token=..., ?auth_token__startswith=...: a relation compares its target's key.
            return True
        opts = target.to_opts
    return False


def has_field(opts, name: str) -> bool:
    try:
        opts.get_field(name)
    except FieldDoesNotExist:
        return name == "pk"
    return True


class SecretSafeAdmin:
    """Refuses a lookup, a popup's value or a configuration that reaches a secret. The admin site
    (timeslot/admin_site.py) mixes it into every ModelAdmin registered on it, Django's own too."""

    def lookup_allowed(self, lookup, value, request=None):
        # Refused as Django refuses a lookup it does not offer: DisallowedModelAdminLookup, a 400.
        return not reaches_secret(self.model, lookup) and super().lookup_allowed(lookup, value, request)

    def to_field_allowed(self, request, to_field):
        return not reaches_secret(self.model, to_field) and super().to_field_allowed(request, to_field)

    def changelist_view(self, request, extra_context=None):
        # A popup's rows carry their primary key (or ?_to_field) for the window that opened it: an API
        # token's is its key.
        if IS_POPUP_VAR in request.GET and reaches_secret(self.model, request.GET.get(TO_FIELD_VAR) or "pk"):
            raise DisallowedModelAdminToField(f"A popup of {self.opts.label} would show a secret.")
        return super().changelist_view(request, extra_context)

    def check(self, **kwargs):
        return [*super().check(**kwargs), *self._check_secrets()]

    def _check_secrets(self) -> list[checks.Error]:
        """Searches, filters, date drill-down and orderings are fixed by the admin's code, not by the
        query string: one that reaches a secret is an error at start-up (manage.py check)."""
        return [
            checks.Error(
                f"{option} {path!r} reaches a secret: it would let the admin's users probe it.",
                obj=type(self), id="timeslot.E001",
            )
            for option, path in self._configured_paths()
            if reaches_secret(self.model, path)
        ]

    def _configured_paths(self):
        for field in self.search_fields:
            yield "search_fields", field.lstrip("^=@")
        for item in self.list_filter:
            if isinstance(item, str):
                yield "list_filter", item
            elif isinstance(item, (list, tuple)) and isinstance(item[0], str):
                yield "list_filter", item[0]
        if self.date_hierarchy:
            yield "date_hierarchy", self.date_hierarchy
        for field in self.ordering or ():
            if isinstance(field, str):
                yield "ordering", field.lstrip("-?")
        for column in self.list_display:
            ordering = self._column_ordering(column)
            if isinstance(ordering, str):
                yield "list_display", ordering.lstrip("-")

    def _column_ordering(self, column):
        """What ?o= sorts by for the column, as the changelist reads it (ChangeList.get_ordering_field)."""
        if not isinstance(column, str):
            return getattr(column, "admin_order_field", None)
        if has_field(self.opts, column):
            return column
        attribute = getattr(self, column, None) or getattr(self.model, column, None)
        if isinstance(attribute, property):
            attribute = attribute.fget
        return getattr(attribute, "admin_order_field", column if LOOKUP_SEP in column else None)
