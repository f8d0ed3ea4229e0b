"""The custom user model, present from the first migration.

Usernames and emails are unique after normalisation (NFKC, then casefold)
and every lookup by them goes through the normalised form, so ``Alice`` and
``alice``, ``Ärger`` and ``ärger``, ``straße`` and ``STRASSE``, ``ｆｏｏ`` and
``foo`` are one account on every database. The normalised copies live in
their own columns with unique constraints, filled by ``save()``: the
database's ``lower()`` cannot be used, because SQLite's lowers ASCII only and
PostgreSQL's depends on the collation. The username is kept as typed, for
display.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.sessions.base_session import AbstractBaseSession
from django.core.exceptions import ValidationError
from django.db import models, router, transaction

from bouncer.core.identifiers import identifier_normalize


class BouncerUserManager(UserManager):
    def get_by_natural_key(self, username: str) -> User:
        return self.get(username_normalized=identifier_normalize(username))

    def email_taken(self, email: str, *, exclude_pk=None) -> bool:
        return self.filter(email_normalized=identifier_normalize(email)).exclude(pk=exclude_pk).exists()

    def username_taken(self, username: str) -> bool:
        return self.filter(username_normalized=identifier_normalize(username)).exists()


#: The normalised columns and the field each is derived from.
NORMALIZED = {"username_normalized": "username", "email_normalized": "email"}


class User(AbstractUser):
    email = models.EmailField("email address", max_length=254)
    # casefold may lengthen a string (ß → ss, ligatures), hence the room.
    username_normalized = models.CharField(max_length=600, unique=True, editable=False)
    # NULL for an account without an address (a social sign-in whose provider
    # gave none), so any number of them fit under the unique constraint.
    email_normalized = models.CharField(max_length=1024, unique=True, null=True, editable=False)
    #: Has a second factor (TOTP or WebAuthn; allauth's Authenticator rows):
    #: kept by bouncer/multifactor/receivers.py, so the sign-in flow and the
    #: cached user row know it without a query.
    mfa_enabled = models.BooleanField(default=False, editable=False)

    objects = BouncerUserManager()

    REQUIRED_FIELDS = ["email"]

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    def clean(self) -> None:
        """Form errors (admin, ModelForms) for a name the unique columns would refuse.

        The normalised columns are not form fields, so Django's own unique
        checks never look at them: without this an admin adding ``ärger`` next
        to ``Ärger`` would hit the constraint and get a 500.
        """
        super().clean()
        others = type(self)._default_manager.exclude(pk=self.pk)
        errors = {}
        if self.username and others.filter(username_normalized=identifier_normalize(self.username)).exists():
            errors["username"] = "A user with that username already exists."
        if self.email and others.filter(email_normalized=identifier_normalize(self.email)).exists():
            errors["email"] = "A user with that email already exists."
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        for column, source in NORMALIZED.items():
            setattr(self, column, identifier_normalize(getattr(self, source) or "") or None)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            extra = {column for column, source in NORMALIZED.items() if source in update_fields}
            kwargs["update_fields"] = {*update_fields, *extra}
        # One transaction for the row and its receivers (cache invalidation, the
        # credential revocations of a deactivation or a password set): a cache
        # that cannot be invalidated rolls the save back (503) instead of leaving
        # a stale copy of the user in Redis (bouncer.core.modelcache).
        with transaction.atomic(using=kwargs.get("using") or router.db_for_write(type(self), instance=self), savepoint=False):
            super().save(*args, **kwargs)


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
    #: How the user signed in (RFC 8176 values, space-separated), from the session's
    #: ``bouncer_amr``: for the list of sessions and devices. Requests read the data.
    amr = models.CharField(max_length=32, blank=True)

    class Meta(AbstractBaseSession.Meta):
        verbose_name = "session"
        indexes = [models.Index(fields=["user", "expire_date"], name="users_session_user_live")]

    @classmethod
    def get_session_store_class(cls):
        from bouncer.users.sessions import SessionStore

        return SessionStore

    def __str__(self) -> str:
        return f"session of user {self.user_id} since {self.created_at:%Y-%m-%d %H:%M}" if self.created_at else "session"
