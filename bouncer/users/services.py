"""Writes for accounts: registration, sign-in checks, session login/logout,
password change, profile update. Each writes its own audit event."""

from __future__ import annotations

from django.contrib.auth import SESSION_KEY, login, logout, update_session_auth_hash
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from bouncer.audit.models import AuditAction
from bouncer.audit.services import audit_record
from bouncer.core.exceptions import DomainError
from bouncer.tokens.jwt.services import jwt_revoke_for_user
from bouncer.tokens.opaque.models import DeviceToken
from bouncer.tokens.opaque.services import token_revoke_all_for_user
from bouncer.users.models import User
from bouncer.users.signin import AccountLocked, SignInThrottled, signin_password, signin_password_confirm, signin_succeeded_record

__all__ = ["AccountLocked", "SignInThrottled"]  # re-exported: the sign-in refusals live in signin.py


class RegistrationConflict(DomainError):
    code = "conflict"


class PasswordRejected(DomainError):
    code = "password_invalid"


def user_register(*, request: HttpRequest | None, username: str, email: str, password: str) -> User:
    """Create an ordinary account. Privilege flags are never taken from input."""
    errors: dict[str, list[str]] = {}
    if User.objects.username_taken(username):
        errors["username"] = ["A user with that username already exists."]
    if User.objects.email_taken(email):
        errors["email"] = ["A user with that email already exists."]
    candidate = User(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise RegistrationConflict(errors)
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=User.objects.normalize_email(email), password=password)
    except IntegrityError:
        # Two registrations raced past the checks above; the constraint decided.
        raise RegistrationConflict({"username": ["A user with that username or email already exists."]}) from None
    audit_record(action=AuditAction.USER_REGISTERED, request=request, user=user, method="register")
    return user


def session_login(*, request: HttpRequest, username: str, password: str) -> User:
    """Sign in with a session, through the sign-in flow; the session id always changes.

    Django's ``login`` cycles the key only when the session belongs to nobody
    or to someone else; signing in again inside a live session of the same
    user would keep the id (ASVS 7.2.4 asks for a new one at every
    authentication), so the key is cycled here first. ``login`` then sees
    the same user and does not cycle it a second time.
    """
    user = signin_password(request=request, username=username, password=password, method="session").completed_user()
    if SESSION_KEY in request.session:
        request.session.cycle_key()
    login(request, user, backend="bouncer.users.backends.CachedModelBackend")
    signin_succeeded_record(request=request, user=user, method="session")
    return user


def session_logout(*, request: HttpRequest) -> None:
    """Delete the session server-side (``logout`` flushes it) and clear the user."""
    user = request.user
    logout(request)
    audit_record(action=AuditAction.LOGOUT, request=request, user=user, method="session")


def password_change(*, request: HttpRequest, user: User, old_password: str, new_password: str) -> None:
    """Change the password and end every other sign-in of the user.

    Other sessions die because their stored auth hash no longer matches the
    password (Django checks it on every request); the current session is kept
    by ``update_session_auth_hash``. Every DRF token and JWT sign-in except
    the one this request came with is revoked.
    """
    # The old password is a proof of identity like a sign-in: the same
    # per-account throttle and lockout (429s), and a wrong one counts.
    if not signin_password_confirm(request=request, user=user, password=old_password):
        raise PasswordRejected({"old_password": ["The current password is not correct."]})
    try:
        validate_password(new_password, user=user)
    except DjangoValidationError as exc:
        raise PasswordRejected({"new_password": list(exc.messages)}) from None
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        auth = getattr(request, "auth", None)
        current_token = auth if isinstance(auth, DeviceToken) else None
        token_revoke_all_for_user(user=user, request=request, keep=current_token, reason="password_changed")
        current_family = auth.get("fam") if isinstance(auth, dict) else None
        jwt_revoke_for_user(user=user, request=request, reason="password_changed", keep_family=current_family)
    if getattr(request, "session", None) is not None and request.session.session_key:
        update_session_auth_hash(request, user)
    audit_record(action=AuditAction.PASSWORD_CHANGED, request=request, user=user)


def profile_update(*, request: HttpRequest, user: User, data: dict) -> User:
    """Update the editable profile fields (names and email, never flags)."""
    email = data.get("email")
    if email is not None and User.objects.email_taken(email, exclude_pk=user.pk):
        raise RegistrationConflict({"email": ["A user with that email already exists."]})
    changed = sorted(field for field, value in data.items() if getattr(user, field) != value)
    if not changed:
        return user
    for field in changed:
        setattr(user, field, data[field])
    try:
        with transaction.atomic():
            user.save(update_fields=changed)
    except IntegrityError:
        raise RegistrationConflict({"email": ["A user with that email already exists."]}) from None
    audit_record(action=AuditAction.PROFILE_UPDATED, request=request, user=user, data={"fields": changed})
    return user
