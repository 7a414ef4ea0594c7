"""No admin screen answers a question about a secret: an API token's key, a feed secret's hash, a password
hash. Every registered changelist is asked through every form of lookup, by a staff user who may only view it.

The rule itself is in timeslot/admin_secrets.py; the login's limits are in test_admin_login.py.
"""
import hashlib
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from export.models import CalendarFeed, ExportLog
from slots.tests.factories import SlotFactory, SlotGroupFactory, TokenFactory, UserFactory
from timeslot.admin_secrets import SecretSafeAdmin, secret_fields
from timeslot.admin_site import TimeslotAdminSite

pytestmark = pytest.mark.django_db

REGISTERED = {model._meta.label: model_admin for model, model_admin in admin.site._registry.items()}
# Each form a probe can take: the lookup added to the path, and the value made from the secret it guesses.
LOOKUPS = {
    "": lambda secret: secret,
    "__exact": lambda secret: secret,
    "__iexact": lambda secret: secret.upper(),
    "__startswith": lambda secret: secret[:3],
    "__istartswith": lambda secret: secret[:3].upper(),
    "__contains": lambda secret: secret[1:4],
    "__endswith": lambda secret: secret[-3:],
    "__regex": lambda secret: f"^{secret[:1]}[^!]",
    "__iregex": lambda secret: f"^{secret[:1]}",
    "__gt": lambda secret: secret[:1],
    "__lt": lambda secret: secret[:1] + "~",
    "__gte": lambda secret: secret[:1],
    "__in": lambda secret: f"{secret},x",
    # Naming a secret field refuses the lookup whatever follows, a question of presence too; a relation's
    # presence (has the user a token?) is no secret.
    "__isnull": lambda secret: "False",
}
SECRET_NAMES = {"pk", *(field.name for field in secret_fields())}


def secret_paths(model, hops: int = 2) -> list[str]:
    """Every lookup path from the model that ends at a secret, across up to `hops` relations: the secret
    field itself, "pk" where the primary key is one, and a relation whose value is one (its target's key)."""
    secrets = secret_fields()
    paths = []

    def walk(opts, prefix: str, left: int) -> None:
        if opts.pk in secrets:
            paths.append(f"{prefix}pk")
        for field in opts.get_fields():
            if field in secrets:
                paths.append(f"{prefix}{field.name}")
            elif left and getattr(field, "path_infos", None):
                target = field.path_infos[-1]
                if secrets.intersection(target.target_fields):
                    paths.append(f"{prefix}{field.name}")
                walk(target.to_opts, f"{prefix}{field.name}__", left - 1)

    walk(model._meta, "", hops)
    return paths


def secret_of(model, path: str, values: dict) -> str:
    """The true value a probe of the path guesses at, so that on a leaking admin it would match."""
    opts = model._meta
    for part in path.split("__"):
        field = opts.pk if part == "pk" else opts.get_field(part)
        if field in values:
            return values[field]
        target = field.path_infos[-1]
        if part == path.split("__")[-1]:
            return values[target.target_fields[0]]
        opts = target.to_opts
    raise AssertionError(path)


@pytest.fixture
def secrets():
    """A superuser with an API token and a feed, and a row in every model the admin lists."""
    boss = UserFactory(username="boss", is_staff=True, is_superuser=True)
    token = TokenFactory(user=boss)
    group = SlotGroupFactory(owner=boss)
    group.members.add(boss)
    SlotFactory(creator=boss, groups=[group])
    feed = CalendarFeed.objects.create(owner=boss, group=group, secret_hash=hashlib.sha256(b"s3cret").hexdigest())
    ExportLog.objects.create(user=boss, group=group, kind="google", status=200, duration=timedelta(seconds=1))
    fields = {field.model._meta.label: field for field in secret_fields()}
    return {
        fields["authtoken.Token"]: token.key,
        fields["export.CalendarFeed"]: feed.secret_hash,
        fields["auth.User"]: boss.password,
    }


def viewer_of(client, model):
    """The client, logged in as staff who may only view the model's screens."""
    viewer = UserFactory(username="viewer", is_staff=True)
    content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
    viewer.user_permissions.add(
        Permission.objects.get(content_type=content_type, codename=f"view_{model._meta.model_name}")
    )
    client.force_login(viewer)
    return client


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def test_the_probes_include_every_way_to_a_secret_named_so_far():
    labels = ("auth.User", "export.ApiToken", "export.CalendarFeed", "export.ExportLog")
    user, token, feed, log = (REGISTERED[label].model for label in labels)
    assert {"password", "auth_token", "auth_token__pk", "auth_token__key", "calendar_feeds__secret_hash"} <= set(
        secret_paths(user)
    )
    assert {"pk", "key", "user__password", "user__auth_token__key"} <= set(secret_paths(token))
    assert {"secret_hash", "owner__password", "owner__auth_token"} <= set(secret_paths(feed))
    assert {"user__password", "user__auth_token", "user__calendar_feeds__secret_hash"} <= set(secret_paths(log))


@pytest.mark.parametrize("label", REGISTERED)
def test_every_changelist_refuses_each_lookup_reaching_a_secret_as_django_refuses_one(client, secrets, label):
    model = REGISTERED[label].model
    viewer = viewer_of(client, model)
    url = changelist(model)
    assert viewer.get(url).status_code == 200

    answered = []
    for path in secret_paths(model):
        secret = secret_of(model, path, secrets)
        for lookup, guess in LOOKUPS.items():
            if lookup == "__isnull" and path.rsplit("__", 1)[-1] not in SECRET_NAMES:
                continue
            response = viewer.get(url, {f"{path}{lookup}": guess(secret)})
            if response.status_code != 400:
                answered.append((f"{path}{lookup}", response.status_code))

    assert answered == []


def test_the_user_list_still_tells_who_has_an_api_token(client, secrets):
    viewer = viewer_of(client, REGISTERED["auth.User"].model)

    response = viewer.get(reverse("admin:auth_user_changelist"), {"auth_token__isnull": "False"})

    assert response.status_code == 200
    assert [user.username for user in response.context["cl"].result_list] == ["boss"]


@pytest.mark.parametrize("label", REGISTERED)
def test_every_filter_sort_search_and_date_link_the_admin_offers_still_answers(client, secrets, label):
    model_admin = REGISTERED[label]
    viewer = viewer_of(client, model_admin.model)
    url = changelist(model_admin.model)
    cl = viewer.get(url).context["cl"]

    queries = [choice["query_string"] for spec in cl.filter_specs for choice in spec.choices(cl)]
    queries += [f"?o={column}" for column in range(len(cl.list_display))]
    queries += ["?q=boss"] if model_admin.search_fields else []
    queries += [f"?{model_admin.date_hierarchy}__year=2026"] if model_admin.date_hierarchy else []

    assert queries
    assert [query for query in queries if viewer.get(url + query).status_code != 200] == []


def test_a_token_popup_which_would_carry_each_whole_key_is_refused(client, secrets):
    viewer = viewer_of(client, REGISTERED["export.ApiToken"].model)
    (key,) = [value for field, value in secrets.items() if field.model._meta.label == "authtoken.Token"]

    for query in ({"_popup": "1"}, {"_popup": "1", "_to_field": "key"}):
        response = viewer.get(reverse("admin:export_apitoken_changelist"), query)
        assert response.status_code == 400
        assert key not in response.content.decode()


def test_the_user_popup_of_the_slot_forms_creator_field_still_opens(client, secrets):
    viewer = viewer_of(client, REGISTERED["auth.User"].model)

    url = reverse("admin:auth_user_changelist")

    assert viewer.get(url, {"_popup": "1"}).status_code == 200
    assert viewer.get(url, {"_popup": "1", "_to_field": "password"}).status_code == 400


def test_every_registered_admin_is_kept_from_secrets_and_configured_without_one():
    assert [label for label, model_admin in REGISTERED.items() if not isinstance(model_admin, SecretSafeAdmin)] == []
    assert [error for model_admin in REGISTERED.values() for error in model_admin.check()
            if error.id == "timeslot.E001"] == []


def test_an_admin_that_searches_filters_or_sorts_by_a_secret_fails_the_system_check():
    user_model = REGISTERED["auth.User"].model

    class CarelessUserAdmin(admin.ModelAdmin):
        search_fields = ("username", "=auth_token__key")
        list_filter = ("is_staff", "calendar_feeds__secret_hash")
        ordering = ("-password",)
        list_display = ("username", "auth_token")

    site = TimeslotAdminSite(name="careless")
    site.register(user_model, CarelessUserAdmin)

    errors = [error.msg for error in site._registry[user_model].check() if error.id == "timeslot.E001"]

    assert errors == [
        "search_fields 'auth_token__key' reaches a secret: it would let the admin's users probe it.",
        "list_filter 'calendar_feeds__secret_hash' reaches a secret: it would let the admin's users probe it.",
        "ordering 'password' reaches a secret: it would let the admin's users probe it.",
        "list_display 'auth_token' reaches a secret: it would let the admin's users probe it.",
    ]
