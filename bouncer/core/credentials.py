"""The one registry of credential kinds, and the lifecycle that goes through it.

Every kind of credential a user can hold (browser session, DRF device token,
JWT sign-in family, OAuth2 authorization) registers one ``CredentialKind``
from its app's ``AppConfig.ready()``. Account code (``bouncer.users``) only
talks to this module: it never imports a kind, so a new kind (social login,
MFA-bound sessions) plugs in here without touching it.

A kind answers five questions: which live credentials a user has, which one
the current request came with and how its holder signed in (``amr``, RFC
8176: bouncer/core/assurance.py), and how to revoke one, or all but one. Ids
shown to users are ``<kind>_<hmac>``: stable (derived from the kind's own
key with the project's secret), never the secret, its hash, or a database id.

This module has no models and imports no kind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from bouncer.core import assurance
from bouncer.core.exceptions import InvalidCredentials

#: Revocation reasons written into audit rows (the lifecycle events).
PASSWORD_CHANGED = "password_changed"
PASSWORD_SET = "password_set"
DEACTIVATED = "deactivated"
USER_DELETED = "user_deleted"
SIGNED_OUT_ELSEWHERE = "signed_out_elsewhere"
REVOKED_BY_USER = "revoked_by_user"
SIGNED_OUT_BY_ADMIN = "signed_out_by_admin"
#: An operator removed every second factor of a user who lost them (``manage.py mfa_reset``).
MFA_RESET = "mfa_reset"

#: Seconds between two writes of a credential's "last used" time (coarse on purpose:
#: never a write per request).
LAST_USED_RESOLUTION_SECONDS = 300


def credential_seen(*, row, field: str = "last_used_at", now: datetime | None = None) -> None:
    """The coarse "last used" of a credential row just read from the database
    (a cache miss, or every request without the cache): one UPDATE at most per
    ``LAST_USED_RESOLUTION_SECONDS``, never one per request. ``update()`` on
    purpose, so no ``post_save`` drops the cache entry being filled."""
    now = now or timezone.now()
    last = getattr(row, field)
    if last is None or (now - last).total_seconds() >= LAST_USED_RESOLUTION_SECONDS:
        type(row)._default_manager.filter(pk=row.pk).update(**{field: now})
        setattr(row, field, now)


@dataclass(slots=True)
class Credential:
    """One live credential as the user sees it (no secret in here)."""

    kind: str
    #: The kind's own key (a primary key, a session key): never shown.
    key: str
    device: str
    address: str
    created_at: datetime
    last_used_at: datetime | None
    current: bool = False
    #: How the user signed in to make it (RFC 8176 values); () when the kind does not record it.
    amr: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return credential_public_id(kind=self.kind, key=self.key)

    @property
    def mfa(self) -> bool:
        return assurance.amr_is_mfa(self.amr)


class CredentialKind(Protocol):
    name: str

    def list_for_user(self, *, user) -> list[Credential]: ...

    def current_key(self, *, request: HttpRequest) -> str | None:
        """The key of the credential ``request`` authenticated with, if it is this kind."""

    def current_amr(self, *, request: HttpRequest) -> tuple[str, ...] | None:
        """How the holder of the credential ``request`` came with signed in, if it is this kind.

        Read from what authenticating the request already loaded (the session
        data, the cached token row, the verified JWT claims): never a query.
        """

    def revoke(self, *, user, key: str, request: HttpRequest | None, reason: str) -> bool: ...

    def revoke_all(self, *, user, request: HttpRequest | None, reason: str, keep: str | None = None) -> int:
        """Revoke every credential of ``user`` of this kind except ``keep``; how many went."""


_KINDS: dict[str, CredentialKind] = {}


def credential_kind_register(kind: CredentialKind) -> None:
    _KINDS[kind.name] = kind


def credential_public_id(*, kind: str, key: str) -> str:
    digest = salted_hmac("bouncer.core.credentials", f"{kind}:{key}", algorithm="sha256").hexdigest()[:24]
    return f"{kind}_{digest}"


def _current(request: HttpRequest | None) -> tuple[str, str] | None:
    if request is None:
        return None
    for kind in _KINDS.values():
        key = kind.current_key(request=request)
        if key is not None:
            return kind.name, key
    return None


def credential_current_id(*, request: HttpRequest | None) -> str | None:
    """The public id of the credential ``request`` came with (None: none of the registry's kinds, e.g. Basic)."""
    current = _current(request)
    return credential_public_id(kind=current[0], key=current[1]) if current is not None else None


def credential_current_kind(*, request: HttpRequest | None) -> str | None:
    """The kind (``session``, ``token``, ``jwt``, ``oauth2`` ...) of the credential ``request`` came with, or None."""
    current = _current(request)
    return current[0] if current is not None else None


def credential_amr(*, request: HttpRequest) -> tuple[str, ...]:
    """How the holder of the credential ``request`` came with signed in: the one answer for every kind.

    Each registered kind answers for its own credential (``current_amr``). A
    way in that is no credential kind says it on its DRF authentication class
    (an ``amr`` attribute: Basic, a password on every request). Anything else,
    or no credential, is ``()``: nothing proven, so ``MfaVerified`` refuses it.
    """
    for kind in _KINDS.values():
        amr = kind.current_amr(request=request)
        if amr is not None:
            return amr
    authenticator = getattr(request, "successful_authenticator", None)
    return assurance.amr_normalize(getattr(authenticator, "amr", ()))


def credential_list_for_user(*, user, request: HttpRequest | None) -> list[Credential]:
    """Every live credential of ``user``, newest first, ``current`` marked."""
    found = []
    for kind in _KINDS.values():
        found += kind.list_for_user(user=user)
    current = _current(request)
    if current is not None:
        for credential in found:
            if (credential.kind, credential.key) == current:
                credential.current = True
                break
    # Ties broken by kind and key, not by the public id: an HMAC per row costs
    # more than the rest of the sort (measured with 1,000 credentials).
    found.sort(key=lambda c: (c.created_at, c.kind, c.key), reverse=True)
    return found


def credential_find(*, user, credential_id: str) -> Credential | None:
    """The user's credential with this public id, or None (another user's id is unknown)."""
    kind_name, _, _ = credential_id.partition("_")
    kind = _KINDS.get(kind_name)
    if kind is None:
        return None
    for credential in kind.list_for_user(user=user):
        if constant_time_compare(credential.id, credential_id):
            return credential
    return None


def credential_revoke(*, user, credential: Credential, request: HttpRequest | None, reason: str = REVOKED_BY_USER) -> bool:
    return _KINDS[credential.kind].revoke(user=user, key=credential.key, request=request, reason=reason)


def credential_revoke_all(*, user, request: HttpRequest | None, reason: str, keep_current: bool = False) -> int:
    """Revoke every credential of ``user`` of every kind; with ``keep_current``, all but
    the one ``request`` came with (password change, "sign out everywhere")."""
    current = _current(request) if keep_current else None
    total = 0
    # All kinds or none: a cache that cannot be invalidated (ServiceUnavailable,
    # bouncer.core.modelcache) rolls back the kinds revoked before it too.
    with transaction.atomic(savepoint=False):
        for kind in _KINDS.values():
            keep = current[1] if current is not None and current[0] == kind.name else None
            total += kind.revoke_all(user=user, request=request, reason=reason, keep=keep)
    return total


def credential_issue_guard(*, user) -> None:
    """Refuse to issue a credential to a sign-in that a lifecycle event overtook.

    Called first inside the transaction that stores a new DRF token, JWT
    sign-in or OAuth2 token pair. The sign-in flow checked the password a
    moment earlier; a password change, password set or deactivation that
    committed in between revoked every credential that existed then, and one
    stored now would escape it. So the user's row is locked (a concurrent
    change waits for this transaction, whose credential its revocation then
    sees) and must still hold the password hash and ``is_active`` the sign-in
    saw; else ``InvalidCredentials``, the flow's one failure. Browser sessions
    need no call: Django compares a session's password hash on every request.
    """
    row = (
        type(user)._default_manager.select_for_update()
        .filter(pk=user.pk)
        .values_list("password", "is_active")
        .first()
    )
    if row is None or not row[1] or not user.is_active or not constant_time_compare(row[0], user.password):
        raise InvalidCredentials()


# --- the lifecycle events detected on the user's save ---------------------------------

_handled: ContextVar[bool] = ContextVar("bouncer_credentials_handled", default=False)


@contextlib.contextmanager
def credential_lifecycle_handled() -> Iterator[None]:
    """Inside this block, saving a user does not revoke on its own: the caller (the
    password-change service, which keeps the current credential) revokes itself."""
    token = _handled.set(True)
    try:
        yield
    finally:
        _handled.reset(token)


def credential_lifecycle_is_handled() -> bool:
    return _handled.get()
