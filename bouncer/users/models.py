"""The custom user model, present from the first migration.

Usernames and emails are unique regardless of case (database constraints on
``Lower(...)``), and every lookup by them is case-insensitive, so ``Alice``
and ``alice`` are one account.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower


class BouncerUserManager(UserManager):
    def get_by_natural_key(self, username: str) -> User:
        # alias + Lower lets PostgreSQL use the functional unique index.
        return self.alias(username_lower=Lower("username")).get(username_lower=username.lower())

    def email_taken(self, email: str) -> bool:
        return self.alias(email_lower=Lower("email")).filter(email_lower=email.lower()).exists()

    def username_taken(self, username: str) -> bool:
        return self.alias(username_lower=Lower("username")).filter(username_lower=username.lower()).exists()


class User(AbstractUser):
    email = models.EmailField("email address", max_length=254)

    objects = BouncerUserManager()

    REQUIRED_FIELDS = ["email"]

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(Lower("username"), name="users_user_username_ci_unique"),
            models.UniqueConstraint(Lower("email"), name="users_user_email_ci_unique"),
        ]
