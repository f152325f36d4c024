"""factory_boy factories shared by the suite. Apps' own factories live in tests/<app>/factories.py."""

from __future__ import annotations

import factory

from kehu.core.models import Department, ModelGrant, Role, Scope, Team, User
from kehu.customers.models import Customer, Kind


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    name = factory.Sequence(lambda n: f"部门 {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Sequence(lambda n: f"用户 {n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pw-123456")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class RoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Role

    code = factory.Sequence(lambda n: f"role{n}")
    name = factory.Sequence(lambda n: f"Role {n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    kind = Kind.ORGANIZATION
    name = factory.Sequence(lambda n: f"北京测试{n}科技有限公司")


def grant(role: Role, model: str, actions=("view",), read=Scope.OWN, write=Scope.OWN) -> ModelGrant:
    return ModelGrant.objects.create(
        role=role, model=model, read_scope=read, write_scope=write, **{f"can_{a}": True for a in actions}
    )


def user_with(model: str, actions=("view",), read=Scope.OWN, write=Scope.OWN, **user_kwargs) -> User:
    """A user holding one role with one grant — the usual set-up of a permission test."""
    user = UserFactory(**user_kwargs)
    role = RoleFactory()
    grant(role, model, actions, read, write)
    user.roles.add(role)
    return user
