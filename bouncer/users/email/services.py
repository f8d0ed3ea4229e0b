"""Email verification and password reset: the writes and the mails.

Tokens are allauth's: ``EmailConfirmationHMAC`` keys (a signed address id,
nothing stored; single use because a verified address is never confirmed
again) and the reset token of ``allauth.account.forms.default_token_generator``
(Django's generator plus the account's addresses: it covers the password
hash, the last sign-in and the addresses, so it is void once used, after a
sign-in, or when an address changes, and expires after
``PASSWORD_RESET_TIMEOUT``), with uids from ``user_pk_to_url_str``, as
dj-rest-auth does with allauth.

Enumeration: every answer about an address is the same whether or not an
account uses it. Each request does one lookup, renders one mail and
enqueues it or drops it (``outbox.py`` sends off the request path), and
writes one audit row, whichever the case. Throttles count before the
lookup, per client address and per address typed, so a 429 tells nothing
either.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import get_adapter
from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from allauth.account.utils import url_str_to_user_pk, user_pk_to_url_str
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse

from bouncer.audit.models import AuditAction
from bouncer.audit.services import audit_record
from bouncer.core.exceptions import DomainError
from bouncer.core.http import client_bucket
from bouncer.core.identifiers import identifier_normalize
from bouncer.core.throttling import Hit, account_ident, throttle_hit
from bouncer.users.email.selectors import email_address_verified
from bouncer.users.lockout import lockout_clear
from bouncer.users.models import User

logger = logging.getLogger("bouncer.mail")

SEND_SCOPE = "email_send"
SEND_ACCOUNT_SCOPE = "email_send_account"
CONFIRM_SCOPE = "email_confirm"


class EmailThrottled(DomainError):
    status_code = 429
    code = "throttled"
    default_detail = "Too many requests. Try again later."

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after


class ResetLinkInvalid(DomainError):
    """Unknown uid, wrong, used or expired token: one answer for all (a uid is not confirmed to exist)."""

    code = "reset_link_invalid"
    default_detail = "The password reset link is invalid or has expired. Ask for a new one."


class PasswordResetRejected(DomainError):
    """Field errors of the new password (dj-rest-auth's shape: ``{"new_password2": [...]}``)."""

    code = "password_invalid"


class VerificationKeyInvalid(DomainError):
    code = "verification_key_invalid"
    default_detail = "The verification link is invalid or was already used."


class VerificationAddressTaken(DomainError):
    """Another account already holds this address as verified (allauth's unique verified address)."""

    code = "email_verified_elsewhere"
    default_detail = "This address is already confirmed for another account."


class VerificationKeyExpired(DomainError):
    code = "verification_key_expired"
    default_detail = "The verification link has expired. Ask for a new one."


# --- throttles ------------------------------------------------------------------


def _throttle_send(request: HttpRequest | None, email: str) -> None:
    """Per client address and per address typed (the account's), counted before anything is looked up."""
    address = client_bucket(request) if request is not None else None
    hits = [Hit(SEND_ACCOUNT_SCOPE, account_ident("email:" + email))]
    if address:
        hits.append(Hit(SEND_SCOPE, address))
    wait = throttle_hit(hits)
    if wait is not None:
        raise EmailThrottled(wait)


def _throttle_confirm(request: HttpRequest | None, account: str | None = None) -> None:
    address = client_bucket(request) if request is not None else None
    hits = [Hit(CONFIRM_SCOPE, ident) for ident in (address, account and account_ident("confirm:" + account)) if ident]
    wait = throttle_hit(hits)
    if wait is not None:
        raise EmailThrottled(wait)


# --- links ----------------------------------------------------------------------


def _link(request: HttpRequest | None, *, template: str, page: str, **params: str) -> str:
    """The frontend's URL template with ``{name}`` filled in (quoted), else Bouncer's own page."""
    if template:
        url = template
        for name, value in params.items():
            url = url.replace("{" + name + "}", quote(value, safe=":"))
        return url
    path = reverse(page, kwargs=params)
    return request.build_absolute_uri(path) if request is not None else path


def reset_link(request: HttpRequest | None, user: User) -> str:
    return _link(
        request,
        template=settings.BOUNCER_EMAIL.get("FRONTEND_RESET_URL", ""),
        page="password-reset-confirm",
        uid=user_pk_to_url_str(user),
        token=default_token_generator.make_token(user),
    )


def verify_link(request: HttpRequest | None, address: EmailAddress) -> str:
    key = EmailConfirmationHMAC(address).key
    return _link(request, template=settings.BOUNCER_EMAIL.get("FRONTEND_VERIFY_URL", ""), page="email-verify", key=key)


def _page(request: HttpRequest | None, name: str) -> str:
    path = reverse(name)
    return request.build_absolute_uri(path) if request is not None else path


def _hours(seconds: int) -> str:
    return f"{seconds // 3600} hour{'s' if seconds // 3600 != 1 else ''}" if seconds >= 3600 else f"{max(1, seconds // 60)} minutes"


def _mail(request: HttpRequest | None, template: str, email: str, context: dict, *, send: bool = True) -> None:
    """Render the mail in the request; enqueue it, or drop it (same work on the request path)."""
    adapter = get_adapter(request)
    if send:
        adapter.send_mail(template, email, context)
    else:
        adapter.mail_render(template, email, context)


# --- verification ---------------------------------------------------------------


def email_address_add(*, user: User) -> EmailAddress | None:
    """The account's address as allauth's primary, unverified ``EmailAddress`` (sign-up)."""
    if not user.email:
        return None
    return EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)


def email_change_throttle(*, request: HttpRequest | None, user: User, email: str) -> bool:
    """Before an address change: whether the new address needs a link, counted against the mail throttles.

    A link is owed unless verification is ``none`` or this account proved the
    address before. Counted like a resend (per client address and per address
    typed), so changing back and forth cannot flood someone's mailbox; a
    ``429`` comes before anything is changed.
    """
    from bouncer.users.email.selectors import email_verification_mode

    if email_verification_mode() == "none" or EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists():
        return False
    if request is not None:
        _throttle_send(request, email)
    return True


def email_address_follow(*, user: User) -> EmailAddress | None:
    """Make ``user.email`` the account's primary ``EmailAddress``, after the address changed.

    Run in the transaction of the save. The account's row for the address
    (case-insensitive) becomes primary with its verified flag as it was; with
    no row, a new unverified one. The account's other rows stay, not primary
    (going back to an address it proved needs no new link). Rows of other
    accounts are never read or touched: if another account proved the
    address, this row cannot be verified (allauth's one verified row per
    address), and the link answers ``email_verified_elsewhere``. The row
    comes back when it is unverified (a link is owed), else None.
    """
    if not user.email:
        return None
    own = EmailAddress.objects.select_for_update().filter(user=user, email__iexact=user.email).order_by("-verified", "pk").first()
    others = EmailAddress.objects.filter(user=user, primary=True)
    if own is not None:
        others = others.exclude(pk=own.pk)
    others.update(primary=False)  # first: allauth allows one primary row per account
    if own is None:
        own = EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
    elif not own.primary:
        own.primary = True
        own.save(update_fields=["primary"])
    return None if own.verified else own


def email_verification_send(*, request: HttpRequest | None, address: EmailAddress, reason: str) -> None:
    """Mail the verification link for ``address`` and audit it (``reason``: signup | resend | email_change)."""
    user = address.user
    _mail(
        request,
        "account/email/email_confirmation",
        address.email,
        {
            "user": user,
            "username": user.get_username(),
            "activate_url": verify_link(request, address),
            "expires_in": _hours(int(settings.BOUNCER_EMAIL.get("VERIFY_SECONDS", 3 * 86400))),
        },
    )
    audit_record(action=AuditAction.EMAIL_VERIFICATION_SENT, request=request, user=user, method="email", data={"reason": reason})


def email_verification_resend(*, request: HttpRequest | None, email: str) -> None:
    """Send the link again to an unconfirmed address; the same work and answer for any other address."""
    _throttle_send(request, email)
    address = (
        EmailAddress.objects.filter(email__iexact=email.strip(), verified=False, user__is_active=True)
        .select_related("user")
        .order_by("-primary", "pk")
        .first()
    )
    if address is not None:
        email_verification_send(request=request, address=address, reason="resend")
        return
    # Nothing to send: render the same mail and drop it, and write the same
    # one audit row (without a user), so the answer costs the same.
    _mail(request, "account/email/email_confirmation", email, {"username": "", "activate_url": "", "expires_in": ""}, send=False)
    audit_record(action=AuditAction.EMAIL_VERIFICATION_SENT, request=request, method="email", data={"reason": "resend", "sent": False})


def email_verify(*, request: HttpRequest | None, key: str) -> EmailAddress:
    """Confirm an address by the key of its link: single use, expires after ``VERIFY_SECONDS``."""
    _throttle_confirm(request)
    try:
        # The key is allauth's signed address id; allauth checks its age in
        # whole days, Bouncer in seconds, with the same salt (a public setting).
        signing.loads(key, max_age=int(settings.BOUNCER_EMAIL.get("VERIFY_SECONDS", 3 * 86400)), salt=allauth_settings.SALT)
    except signing.SignatureExpired:
        raise VerificationKeyExpired() from None
    except signing.BadSignature:
        raise VerificationKeyInvalid() from None
    confirmation = EmailConfirmationHMAC.from_key(key)
    if confirmation is None:  # already confirmed (single use), or the address was removed
        raise VerificationKeyInvalid()
    address = confirmation.email_address
    try:
        with transaction.atomic():
            # The database decides "first use": a second request racing this one updates nothing.
            if not EmailAddress.objects.filter(pk=address.pk, verified=False).update(verified=True):
                raise VerificationKeyInvalid()
    except IntegrityError:
        # allauth's constraint: one verified row per address. Another account
        # got it verified first (a provider vouched for it there).
        raise VerificationAddressTaken() from None
    address.verified = True
    audit_record(action=AuditAction.EMAIL_VERIFIED, request=request, user=address.user, method="email", data={"via": "link"})
    return address


# --- password reset ---------------------------------------------------------------


def password_reset_request(*, request: HttpRequest | None, email: str) -> None:
    """Mail a reset link to the account using ``email``; to any other address, a notice.

    The notice ("someone asked to reset a password here, but this address
    has no account") is allauth's ``ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS`` idea;
    with that setting off the notice is rendered and dropped. Either way one
    mail is rendered, one audit row written, and the answer is the same.
    """
    _throttle_send(request, email)
    normalized = identifier_normalize(email.strip())
    user = User.objects.filter(email_normalized=normalized, is_active=True).first() if normalized else None
    if user is not None:
        _mail(
            request,
            "account/email/password_reset_key",
            user.email,
            {
                "user": user,
                "username": user.get_username(),
                "password_reset_url": reset_link(request, user),
                "expires_in": _hours(int(settings.PASSWORD_RESET_TIMEOUT)),
            },
        )
        audit_record(action=AuditAction.PASSWORD_RESET_REQUESTED, request=request, user=user, method="email")
        return
    # The reads allauth's token generator makes for an account (its address
    # rows), made here too: both paths cost the same queries.
    EmailAddress.objects.filter(user_id=None, email=email).exists()
    list(EmailAddress.objects.filter(user_id=None).values_list("email", flat=True))
    _mail(
        request,
        "account/email/unknown_account",
        email,
        {"signup_url": _page(request, "signup")},
        send=bool(allauth_settings.EMAIL_UNKNOWN_ACCOUNTS) and bool(normalized),
    )
    audit_record(action=AuditAction.PASSWORD_RESET_REQUESTED, request=request, method="email", data={"account": False})


def _reset_user(uid: str) -> User | None:
    try:
        pk = url_str_to_user_pk(uid)
    except (ValueError, TypeError, OverflowError, DjangoValidationError):
        return None
    if pk is None or len(uid) > 32:
        return None
    return User.objects.filter(pk=pk, is_active=True).first()


def password_reset_check(*, request: HttpRequest | None, uid: str, token: str) -> User:
    """The account a reset link is for, if the link is still good; counts as a try."""
    _throttle_confirm(request, account=uid)
    user = _reset_user(uid)
    if user is None or len(token) > 128 or not default_token_generator.check_token(user, token):
        raise ResetLinkInvalid()
    return user


def _address_unproven(user: User) -> bool:
    """Made by sign-up (a primary row) and ``user.email`` never confirmed (``selectors.email_signin_allowed``'s rule)."""
    return EmailAddress.objects.filter(user=user, primary=True).exists() and not email_address_verified(user=user)


def password_reset_confirm(*, request: HttpRequest | None, uid: str, token: str, new_password1: str, new_password2: str) -> User:
    """Set a new password from a reset link.

    The link is checked before the passwords (a bad link tells nothing about
    them), then checked again on the locked row inside the transaction, so
    two requests with one link cannot both use it. The save revokes every
    credential of every kind (users/receivers.py, through the registry); the
    lockout of the account is cleared; the address the link went to is now
    known to be the person's, so it counts as verified.
    """
    user = password_reset_check(request=request, uid=uid, token=token)
    if new_password1 != new_password2:
        raise PasswordResetRejected({"new_password2": ["The two password fields didn't match."]})
    try:
        validate_password(new_password1, user=user)
    except DjangoValidationError as exc:
        raise PasswordResetRejected({"new_password2": list(exc.messages)}) from None
    from bouncer.social.services import social_accounts_drop, social_accounts_dropped_audit

    with transaction.atomic():
        locked = User.objects.select_for_update().filter(pk=user.pk, is_active=True).first()
        if locked is None or not default_token_generator.check_token(locked, token):
            raise ResetLinkInvalid()
        # The link proves the address. If nobody had proved it before, the
        # provider identities linked to the account may be those of whoever
        # registered the address first (account pre-hijacking): they go,
        # like the old password. An operator-made account (no primary row) keeps them.
        unlinked = social_accounts_drop(user=locked) if _address_unproven(locked) else []
        locked.set_password(new_password1)
        locked.save(update_fields=["password"])
        if locked.email:
            try:
                with transaction.atomic():
                    EmailAddress.objects.filter(user=locked, email__iexact=locked.email, verified=False).update(verified=True)
            except IntegrityError:
                pass  # verified on another account already (allauth's unique verified address): left unverified here
    lockout_clear(username=locked.get_username())
    social_accounts_dropped_audit(request=request, user=locked, providers=unlinked, by="password_reset")
    audit_record(action=AuditAction.PASSWORD_RESET_COMPLETED, request=request, user=locked, method="email")
    return locked


# --- registration -----------------------------------------------------------------


def registration_address_taken_notify(*, request: HttpRequest | None, user: User) -> None:
    """Tell the owner of an address that someone tried to sign up with it (mandatory mode)."""
    _mail(
        request,
        "account/email/account_already_exists",
        user.email,
        {"user": user, "username": user.get_username(), "password_reset_url": _page(request, "password-reset"), "signin_url": _page(request, "login")},
    )
    logger.info("registration_address_taken", extra={"event": "registration_address_taken", "user_id": user.pk})
