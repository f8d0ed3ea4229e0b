"""Writes for accounts: registration, sign-in checks, session login/logout,
password change, profile update. Each writes its own audit event."""

from __future__ import annotations

from django.contrib.auth import SESSION_KEY, login, logout, update_session_auth_hash
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from bouncer.audit.models import AuditAction
from bouncer.audit.services import audit_record
from bouncer.core import assurance, credentials
from bouncer.core.exceptions import DomainError
from bouncer.core.identifiers import identifier_normalize
from bouncer.multifactor.stepup import step_up_check
from bouncer.users.models import User
from bouncer.users.signin import (
    AccountLocked,
    SignInThrottled,
    signin_finish,
    signin_password,
    signin_password_confirm,
    signin_succeeded_record,
)

__all__ = ["AccountLocked", "SignInThrottled"]  # re-exported: the sign-in refusals live in signin.py


class RegistrationConflict(DomainError):
    code = "conflict"


class PasswordRejected(DomainError):
    code = "password_invalid"


def user_register(*, request: HttpRequest | None, username: str, email: str, password: str) -> User | None:
    """Create an ordinary account. Privilege flags are never taken from input.

    The address becomes allauth's primary, unverified ``EmailAddress``; unless
    verification is ``none``, the link to confirm it is mailed. With
    ``mandatory``, an address that is already taken is not an error (that
    would tell who has an account): no account is made, the owner is mailed,
    the same work is done (the password is hashed all the same), and None
    comes back; the caller answers exactly as for a new account.
    """
    from bouncer.users.email import services as email_services
    from bouncer.users.email.selectors import email_verification_mode

    mode = email_verification_mode()
    hide_taken = mode == "mandatory"
    errors: dict[str, list[str]] = {}
    if User.objects.username_taken(username):
        errors["username"] = ["A user with that username already exists."]
    owner = User.objects.filter(email_normalized=identifier_normalize(email)).first() if email else None
    if owner is not None and not hide_taken:
        errors["email"] = ["A user with that email already exists."]
    candidate = User(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise RegistrationConflict(errors)
    if owner is not None:
        make_password(password)  # the hasher's time, as for a new account
        email_services.registration_address_taken_notify(request=request, user=owner)
        return None
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=User.objects.normalize_email(email), password=password)
            address = email_services.email_address_add(user=user)
    except IntegrityError:
        # Two registrations raced past the checks above; the constraint decided.
        raise RegistrationConflict({"username": ["A user with that username or email already exists."]}) from None
    audit_record(action=AuditAction.USER_REGISTERED, request=request, user=user, method="register")
    if address is not None and mode != "none":
        email_services.email_verification_send(request=request, address=address, reason="signup")
    return user


def session_login(*, request: HttpRequest, username: str, password: str, method: str = "session"):
    """Sign in with a session, through the sign-in flow (the session API and the HTML page).

    The finisher's answer (``session_establish``), or ``MfaRequired`` /
    ``MfaEnrolmentRequired`` when a second step is owed.
    """
    result = signin_password(request=request, username=username, password=password, method=method)
    return signin_finish(request=request, result=result, method=method, issue="session")


def session_establish(*, request: HttpRequest, user: User, amr, method: str) -> User:
    """A completed sign-in becomes a session; the session id always changes.

    Django's ``login`` cycles the key only when the session belongs to nobody
    or to someone else; signing in again inside a live session of the same
    user would keep the id (ASVS 7.2.4 asks for a new one at every
    authentication), so the key is cycled here first. ``login`` then sees
    the same user and does not cycle it a second time. The session records
    how its user signed in (``amr``, bouncer/core/assurance.py).
    """
    if SESSION_KEY in request.session:
        request.session.cycle_key()
    login(request, user, backend="bouncer.users.backends.CachedModelBackend")
    request.session[assurance.SESSION_AMR_KEY] = list(assurance.amr_normalize(amr))
    signin_succeeded_record(request=request, user=user, method=method)
    return user


def session_logout(*, request: HttpRequest) -> None:
    """Delete the session server-side (``logout`` flushes it) and clear the user."""
    user = request.user
    logout(request)
    audit_record(action=AuditAction.LOGOUT, request=request, user=user, method="session")


def password_change(*, request: HttpRequest, user: User, old_password: str, new_password: str) -> None:
    """Change the password and end every other sign-in of the user.

    Every credential of the user except the one this request came with is
    revoked through the credential registry (sessions, DRF tokens, JWT
    sign-ins, OAuth2 authorizations); the current session is kept by
    ``update_session_auth_hash``.
    """
    # A user with a second factor confirms it first (403 step_up_required):
    # a stolen token alone cannot even try old passwords here.
    step_up_check(request=request, user=user)
    # The old password is a proof of identity like a sign-in: the same
    # per-account throttle and lockout (429s), and a wrong one counts.
    if not signin_password_confirm(request=request, user=user, password=old_password):
        raise PasswordRejected({"old_password": ["The current password is not correct."]})
    try:
        validate_password(new_password, user=user)
    except DjangoValidationError as exc:
        raise PasswordRejected({"new_password": list(exc.messages)}) from None
    with transaction.atomic():
        # The save alone would revoke every credential (users/receivers.py);
        # here the one this request came with stays, so revoke through the registry.
        with credentials.credential_lifecycle_handled():
            user.set_password(new_password)
            user.save(update_fields=["password"])
        credentials.credential_revoke_all(user=user, request=request, reason=credentials.PASSWORD_CHANGED, keep_current=True)
    if getattr(request, "session", None) is not None and request.session.session_key:
        update_session_auth_hash(request, user)
    audit_record(action=AuditAction.PASSWORD_CHANGED, request=request, user=user)


def profile_update(*, request: HttpRequest, user: User, data: dict) -> User:
    """Update the editable profile fields (names and email, never flags).

    A new email becomes the account's primary ``EmailAddress`` (unverified
    unless the account proved it before) and, unless verification is
    ``none``, its link is mailed (``email_address_follow``), counted against the mail throttles.
    """
    from bouncer.users.email import services as email_services

    email = data.get("email")
    if email is not None and User.objects.email_taken(email, exclude_pk=user.pk):
        raise RegistrationConflict({"email": ["A user with that email already exists."]})
    changed = sorted(field for field, value in data.items() if getattr(user, field) != value)
    if not changed:
        return user
    owed = "email" in changed and email_services.email_change_throttle(request=request, user=user, email=email)
    for field in changed:
        setattr(user, field, data[field])
    try:
        with transaction.atomic():
            user.save(update_fields=changed)
            pending = email_services.email_address_follow(user=user) if "email" in changed else None
    except IntegrityError:
        raise RegistrationConflict({"email": ["A user with that email already exists."]}) from None
    audit_record(action=AuditAction.PROFILE_UPDATED, request=request, user=user, data={"fields": changed})
    if pending is not None and owed:
        email_services.email_verification_send(request=request, address=pending, reason="email_change")
    return user


def user_email_changed_by_admin(*, request: HttpRequest, user: User, fields: list[str]) -> None:
    """After the admin's user form saved a new email (in the admin's transaction): what
    ``profile_update`` does after its save. The rows follow, the link is mailed unless
    verification is ``none``, one ``profile_updated`` row. No throttle: staff did it."""
    from bouncer.users.email import services as email_services
    from bouncer.users.email.selectors import email_verification_mode

    pending = email_services.email_address_follow(user=user)
    audit_record(action=AuditAction.PROFILE_UPDATED, request=request, user=user, data={"fields": sorted(fields), "by": "admin"})
    if pending is not None and email_verification_mode() != "none":
        email_services.email_verification_send(request=request, address=pending, reason="email_change")


class CredentialNotFound(DomainError):
    """Unknown id, or another user's: the same answer, so ids cannot be probed."""

    status_code = 404
    code = "not_found"
    default_detail = "Not found."


#: Longest public id accepted (``<kind>_<24 hex>``); longer is unknown without a lookup.
CREDENTIAL_ID_MAX = 64


def session_revoke(*, request: HttpRequest, user: User, credential_id: str) -> None:
    """Revoke one of the user's own credentials (any kind) by its public id."""
    credential = None
    if len(credential_id) <= CREDENTIAL_ID_MAX:
        credential = credentials.credential_find(user=user, credential_id=credential_id)
    if credential is None or not credentials.credential_revoke(
        user=user, credential=credential, request=request, reason=credentials.REVOKED_BY_USER
    ):
        raise CredentialNotFound()


def session_revoke_others(*, request: HttpRequest, user: User) -> int:
    """"Sign out everywhere else": every credential of the user but the current one.

    A user with a second factor must have stepped up with this credential
    lately (``StepUpRequired``, 403): the API answers it as JSON, the
    sessions page (views.session_revoke_others) as its step-up answer.
    """
    step_up_check(request=request, user=user)
    return credentials.credential_revoke_all(
        user=user, request=request, reason=credentials.SIGNED_OUT_ELSEWHERE, keep_current=True
    )
