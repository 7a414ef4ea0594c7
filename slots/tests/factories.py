"""The factories every test builds its data with."""
from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token

from slots.models import Slot, SlotGroup


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.django.Password("correct horse battery staple")


class TokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Token

    user = factory.SubFactory(UserFactory)


class SlotGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SlotGroup

    name = factory.Sequence(lambda n: f"Group {n}")
    owner = factory.SubFactory(UserFactory)


class SlotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Slot
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Slot title {n}")
    creator = factory.SubFactory(UserFactory)
    start = factory.Sequence(lambda n: timezone.now().replace(microsecond=0) + timedelta(days=n))
    end = factory.LazyAttribute(lambda slot: slot.start + timedelta(hours=1))

    @factory.post_generation
    def groups(self, create, groups, **kwargs):
        if create and groups:
            self.groups.add(*groups)
