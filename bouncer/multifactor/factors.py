"""Enrol, rename and remove factors: the writes behind the management API and the Security pages.

Enrolment is a two-step ceremony whose first half is an ``MfaChallenge``
(a TOTP secret shown but not confirmed, WebAuthn creation options waiting for
the browser's answer), so an API client without a session can enrol too. It
runs for a signed-in user, or for a sign-in that must enrol before it may
complete (an ``mfa_enrol`` ``mfa_token``: ``BOUNCER_MFA_REQUIRED``); in that
case the confirmed factor marks the sign-in's challenge, and
``/api/auth/mfa/authenticate/`` with that ``mfa_token`` completes it.

The first primary factor of a user comes with a set of recovery codes
(shown once). Removing the last primary factor of a user for whom MFA is
required is refused; removing the last one of anybody else also removes the
recovery codes (they are a backup of a factor, not one).
"""

from __future__ import annotations

from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from bouncer.audit.models import AuditAction
from bouncer.audit.services import audit_record
from bouncer.core import assurance
from bouncer.core.exceptions import DomainError
from bouncer.multifactor import recovery, selectors, totp, webauthn
from bouncer.multifactor.models import ChallengePurpose, MfaChallenge
from bouncer.multifactor.services import (
    MfaCodeInvalid,
    MfaTokenInvalid,
    challenge_create,
    challenge_find,
    challenge_spend,
    enrolment_challenge_mark,
    webauthn_amr,
)


class FactorNotFound(DomainError):
    status_code = 404
    code = "not_found"
    default_detail = "Not found."


class FactorExists(DomainError):
    status_code = 409
    code = "factor_exists"
    default_detail = "An authenticator app is already set up. Remove it first to set up another."


class LastFactorRequired(DomainError):
    status_code = 409
    code = "last_factor_required"
    default_detail = "A second factor is required for this account: add another before removing this one."


class SetupExpired(DomainError):
    code = "setup_expired"
    default_detail = "This setup has expired. Start again."


class FactorNotRenamable(DomainError):
    code = "factor_not_renamable"
    default_detail = "Only security keys and passkeys have names."


class MfaNotEnabled(DomainError):
    code = "mfa_not_enabled"
    default_detail = "Set up an authenticator app or a security key first."


def enrolment_user(*, request_user, mfa_token: str | None):
    """Who is enrolling: the signed-in user, or the user of an ``mfa_enrol`` sign-in (then also its challenge)."""
    if mfa_token:
        row = challenge_find(raw=mfa_token, purposes=(ChallengePurpose.ENROL,))
        if row.user.mfa_enabled and not row.data.get("enrolled"):
            # The account got a factor some other way since this sign-in began:
            # its mfa_token must not add one more and sign in past the one it has.
            raise MfaTokenInvalid()
        return row.user, row
    if request_user is None or not request_user.is_authenticated:
        raise MfaTokenInvalid()
    return request_user, None


def _enrolled(*, request: HttpRequest | None, user, factor: Authenticator, enrolment: MfaChallenge | None, proven: str) -> list[str] | None:
    """After a factor is saved: the audit row, the first recovery codes, the waiting sign-in marked."""
    audit_record(action=AuditAction.MFA_ENROLLED, request=request, user=user, data={"factor": factor.type, "factor_id": factor.pk})
    codes = None
    if not Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.RECOVERY_CODES).exists():
        codes = recovery.recovery_codes_generate(user=user)
        audit_record(action=AuditAction.RECOVERY_CODES_GENERATED, request=request, user=user)
    if enrolment is not None:
        enrolment_challenge_mark(row=enrolment, proven=proven)
    return codes


# --- TOTP ------------------------------------------------------------------------


def totp_setup_begin(*, user) -> tuple[str, dict]:
    """A new secret to scan: (setup id, {secret, otpauth_url, qr_svg}). Confirmed by ``totp_setup_confirm``."""
    if Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists():
        raise FactorExists()
    secret = totp.totp_secret_new()
    raw, _ = challenge_create(user=user, purpose=ChallengePurpose.TOTP_SETUP, data={"secret": secret})
    return raw, totp.totp_enrolment(user=user, secret=secret)


def totp_setup_confirm(*, request: HttpRequest | None, user, setup_id: str, code: str, enrolment: MfaChallenge | None = None):
    """The first code from the app proves it holds the secret: (factor, recovery codes if new, else None)."""
    try:
        row = challenge_find(raw=setup_id, purposes=(ChallengePurpose.TOTP_SETUP,), user=user)
    except MfaTokenInvalid:
        raise SetupExpired() from None
    secret = row.data.get("secret", "")
    step = totp.totp_code_step(secret=secret, code=code)
    if step is None:
        raise MfaCodeInvalid()
    try:
        with transaction.atomic():
            challenge_spend(row)
            factor = totp.totp_activate(user=user, secret=secret, step=step)
    except MfaTokenInvalid:
        raise SetupExpired() from None
    except IntegrityError:
        # allauth's constraint: one TOTP factor per user (two confirms raced).
        raise FactorExists() from None
    return factor, _enrolled(request=request, user=user, factor=factor, enrolment=enrolment, proven=assurance.OTP)


# --- WebAuthn --------------------------------------------------------------------


def webauthn_register_begin(*, user, passwordless: bool) -> tuple[str, dict]:
    """(registration id, options for ``navigator.credentials.create()``)."""
    options, state = webauthn.registration_begin(user=user, passwordless=passwordless)
    raw, _ = challenge_create(user=user, purpose=ChallengePurpose.WEBAUTHN_REGISTER, data={"state": state, "passwordless": passwordless})
    return raw, options


def webauthn_register_complete(
    *, request: HttpRequest | None, user, registration_id: str, credential, name: str, enrolment: MfaChallenge | None = None
):
    """The browser's answer becomes a factor: (factor, recovery codes if it is the first factor, else None)."""
    try:
        row = challenge_find(raw=registration_id, purposes=(ChallengePurpose.WEBAUTHN_REGISTER,), user=user)
        challenge_spend(row)
    except MfaTokenInvalid:
        raise SetupExpired() from None
    factor = webauthn.registration_complete(user=user, state=row.data.get("state", {}), credential=credential, name=name)
    proven = webauthn_amr(factor)
    return factor, _enrolled(request=request, user=user, factor=factor, enrolment=enrolment, proven=proven)


# --- every kind ------------------------------------------------------------------


def factor_get(*, user, factor_id) -> Authenticator:
    """One of the user's own factors; another user's id answers like an unknown one."""
    text = str(factor_id)
    # ASCII digits that fit a bigint: anything else (another script's digits, 30 digits) is unknown, not a 500.
    factor = Authenticator.objects.filter(user_id=user.pk, pk=int(text)).first() if text.isascii() and text.isdigit() and len(text) < 19 else None
    if factor is None:
        raise FactorNotFound()
    return factor


def factor_rename(*, user, factor_id, name: str) -> Authenticator:
    factor = factor_get(user=user, factor_id=factor_id)
    if factor.type != Authenticator.Type.WEBAUTHN:
        raise FactorNotRenamable()
    factor.data = {**factor.data, "name": name.strip()[: webauthn.NAME_MAX]}
    factor.save(update_fields=["data"])
    return factor


def factor_remove(*, request: HttpRequest | None, user, factor_id) -> None:
    """Remove one factor (the caller checked the step-up). The last one is kept when MFA is required."""
    with transaction.atomic():
        # The user's row locked: two removals at once cannot each see "another one is left".
        # get_user_model(), not type(user): a session's request.user is a SimpleLazyObject.
        get_user_model()._default_manager.select_for_update().filter(pk=user.pk).first()
        factor = factor_get(user=user, factor_id=factor_id)
        others = Authenticator.objects.filter(user_id=user.pk, type__in=selectors.PRIMARY_TYPES).exclude(pk=factor.pk)
        if factor.type in selectors.PRIMARY_TYPES and not others.exists():
            if selectors.mfa_required_for(user=user):
                raise LastFactorRequired()
            Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.RECOVERY_CODES).delete()
        kind, pk = factor.type, factor.pk
        factor.delete()
    audit_record(action=AuditAction.MFA_REMOVED, request=request, user=user, data={"factor": kind, "factor_id": pk})


def recovery_codes_regenerate(*, request: HttpRequest | None, user) -> list[str]:
    """A new set (the old one stops working); only for a user with a primary factor."""
    if not user.mfa_enabled:
        raise MfaNotEnabled()
    codes = recovery.recovery_codes_generate(user=user)
    audit_record(action=AuditAction.RECOVERY_CODES_GENERATED, request=request, user=user)
    return codes
