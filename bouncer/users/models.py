"""The custom user model, present from the first migration.

Usernames and emails are unique regardless of case (database constraints on
``Lower(...)``), and every lookup by them is case-insensitive, so ``Alice``
and ``alice`` are one account.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.sessions.base_session import AbstractBaseSession
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


class UserSession(AbstractBaseSession):
    """A browser session with its user, so a user's sessions can be listed and revoked.

    Django's documented seam for this: an ``AbstractBaseSession`` subclass
    returned by the engine's ``get_model_class`` (bouncer/users/sessions.py).
    The extra columns mirror values kept inside the session data (the engine
    writes the whole row from the data on every save), so reading a session
    on the hot path stays one cache get.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="sessions")
    created_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    #: Coarse: written at most once per LAST_USED_RESOLUTION_SECONDS (bouncer.core.credentials).
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractBaseSession.Meta):
        verbose_name = "session"
        indexes = [models.Index(fields=["user", "expire_date"], name="users_session_user_live")]

    @classmethod
    def get_session_store_class(cls):
        from bouncer.users.sessions import SessionStore

        return SessionStore

    def __str__(self) -> str:
        return f"session of user {self.user_id} since {self.created_at:%Y-%m-%d %H:%M}" if self.created_at else "session"
