"""Reads for accounts."""

from django.db.models import QuerySet

from bouncer.core import credentials
from bouncer.users.models import User


def user_list() -> QuerySet[User]:
    return User.objects.order_by("id")


def session_list_for_user(*, user: User, request) -> list[credentials.Credential]:
    """Every live credential of ``user`` (every kind in the registry), newest first."""
    return credentials.credential_list_for_user(user=user, request=request)
