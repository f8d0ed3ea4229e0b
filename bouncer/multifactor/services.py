"""The second sign-in step: ``mfa_token`` challenges, and answering them with a factor.

A sign-in whose first factor was right but that owes a second one
(``users/signin.py``: ``mfa`` for a user with a factor, ``mfa_enrol`` for a user
who must have one and has none) gets an ``mfa_token``: the secret of one
``MfaChallenge`` row that remembers who signed in, how (``method``), and
what credential was asked for (``issue`` and its options). The token is
short-lived, takes a bounded number of wrong codes, dies when the password
changes or the account is deactivated, and is spent by one conditional UPDATE:
whatever arrives, one sign-in completes, once, into what was first asked for.

Every code is counted by the per-address ``mfa`` throttle and the per-account
throttle of every sign-in; a wrong one is a failed sign-in toward the lockout.
Each outcome is one audit row.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from bouncer.audit.models import AuditAction
from bouncer.audit.services import audit_record
from bouncer.core import assurance
from bouncer.core.digests import sha256_hex
from bouncer.core.exceptions import DomainError, dependency_failed
from bouncer.core.http import client_bucket
from bouncer.core.throttling import Hit, account_ident, throttle_hit
from bouncer.multifactor import recovery, selectors, totp, webauthn
from bouncer.multifactor.models import ChallengePurpose, MfaChallenge, StepUp
from bouncer.users.lockout import lockout_attempt_begin, lockout_record_failure, lockout_remaining, lockout_reset

PURGE_BATCH = 500
MFA_SCOPE = "mfa"


class MfaRequired(DomainError):
    """401: the first factor was right; answer with ``mfa_token`` and a code at /api/auth/mfa/authenticate/."""

    status_code = 401
    code = "mfa_required"
    default_detail = "A second factor is required to complete the sign-in."

    def __init__(self, *, token: str, methods: list[str], code: str | None = None, detail: str | None = None) -> None:
        code = code or self.code
        super().__init__({"detail": detail or self.default_detail, "code": code, "mfa_token": token, "methods": methods})
        self.code = code


class MfaEnrolmentRequired(MfaRequired):
    """401: a second factor is required for this account and it has none: enrol one with ``mfa_token``."""

    code = "mfa_enrolment_required"
    default_detail = "This account must have a second factor. Enrol one to complete the sign-in."


class MfaTokenInvalid(DomainError):
    status_code = 401
    code = "mfa_token_invalid"
    default_detail = "This sign-in has expired or was already completed. Sign in again."


class MfaCodeInvalid(DomainError):
    code = "mfa_code_invalid"
    default_detail = "The code is not correct."


class MfaEnrolmentIncomplete(DomainError):
    code = "mfa_enrolment_incomplete"
    default_detail = "Enrol a second factor with this mfa_token first."


class MfaThrottled(DomainError):
    status_code = 429
    code = "throttled"
    default_detail = "Too many attempts. Try again later."

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after


@dataclass(frozen=True)
class SecondStep:
    """A completed second step: who, how they first signed in, what to issue and with which amr."""

    user: object
    method: str
    issue: str
    options: dict
    amr: tuple[str, ...]


def password_fingerprint(user) -> str:
    return sha256_hex(user.password or "")


def challenge_create(*, user, purpose: str, method: str = "", issue: str = "", data: dict | None = None) -> tuple[str, MfaChallenge]:
    """A new challenge and its secret (given once; only its digest is stored)."""
    raw = secrets.token_urlsafe(32)
    now = timezone.now()
    row = MfaChallenge.objects.create(
        digest=sha256_hex(raw),
        purpose=purpose,
        user=user,
        method=method,
        issue=issue,
        data=data or {},
        password_fingerprint=password_fingerprint(user) if user is not None else "",
        created_at=now,
        expires_at=now + timedelta(seconds=settings.BOUNCER_MFA["TOKEN_SECONDS"]),
    )
    if row.pk % 50 == 0:
        challenge_purge_expired(now=now)
    return raw, row


def challenge_find(*, raw, purposes: tuple[str, ...], user=None) -> MfaChallenge:
    """The live challenge ``raw`` is the secret of, for one of ``purposes``; ``MfaTokenInvalid`` otherwise."""
    if not isinstance(raw, str) or not raw or len(raw) > 128:
        raise MfaTokenInvalid()
    row = MfaChallenge.objects.select_related("user").filter(digest=sha256_hex(raw), purpose__in=purposes).first()
    if row is None or row.used_at is not None or row.expires_at <= timezone.now():
        raise MfaTokenInvalid()
    if row.failures >= settings.BOUNCER_MFA["TOKEN_ATTEMPTS"]:
        raise MfaTokenInvalid()
    if row.user is not None:
        if not row.user.is_active or row.password_fingerprint != password_fingerprint(row.user):
            raise MfaTokenInvalid()
        if user is not None and row.user_id != user.pk:
            raise MfaTokenInvalid()
    return row


def challenge_spend(row: MfaChallenge) -> None:
    """Single use: exactly one caller spends a challenge; every other gets ``MfaTokenInvalid``."""
    if not MfaChallenge.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=timezone.now()):
        raise MfaTokenInvalid()


def challenge_purge_expired(*, now=None, batch: int = PURGE_BATCH) -> int:
    now = now or timezone.now()
    ids = list(MfaChallenge.objects.filter(expires_at__lt=now - timedelta(minutes=5)).values_list("pk", flat=True)[:batch])
    return MfaChallenge.objects.filter(pk__in=ids).delete()[0] if ids else 0


def mfa_signin_challenge(*, request: HttpRequest, user, step: str, method: str, issue: str, options: dict, amr) -> MfaRequired:
    """The 401 that stops a sign-in owing ``step``, with a new ``mfa_token`` bound to it (returned, for raising)."""
    data = {"options": options, "amr": list(assurance.amr_normalize(amr))}
    if step == "mfa_enrol":
        raw, _ = challenge_create(user=user, purpose=ChallengePurpose.ENROL, method=method, issue=issue, data=data)
        audit_record(action=AuditAction.MFA_MISSING, request=request, user=user, method=method)
        return MfaEnrolmentRequired(token=raw, methods=["totp", "webauthn"])
    raw, _ = challenge_create(user=user, purpose=ChallengePurpose.SIGNIN, method=method, issue=issue, data=data)
    return MfaRequired(token=raw, methods=selectors.mfa_methods(user=user))


def mfa_webauthn_begin(*, raw) -> dict:
    """WebAuthn request options for a sign-in's second step; the state stays on its challenge."""
    row = challenge_find(raw=raw, purposes=(ChallengePurpose.SIGNIN,))
    options, state = webauthn.authentication_begin(user=row.user)
    MfaChallenge.objects.filter(pk=row.pk).update(data={**row.data, "webauthn_state": state})
    return options


def _throttle(*, request: HttpRequest | None, user) -> None:
    hits = [Hit("login_account", account_ident(user.get_username()))]
    address = client_bucket(request) if request is not None else None
    if address:
        hits.append(Hit(MFA_SCOPE, address))
    wait = throttle_hit(hits)
    if wait is not None:
        raise MfaThrottled(wait)


def factor_verify(*, request: HttpRequest | None, user, code=None, credential=None, state: dict | None = None, method: str) -> str:
    """Check one answer of the user's (a TOTP code, a recovery code or a WebAuthn assertion).

    Returns the amr value it proves; a wrong answer raises ``MfaCodeInvalid``
    (or ``WebAuthnRejected``) after counting it toward the lockout. Throttled
    and lockout-checked before anything is compared.
    """
    _throttle(request=request, user=user)
    username = user.get_username()
    remaining, place = lockout_attempt_begin(username=username)
    if remaining is not None:
        from bouncer.users.signin import AccountLocked

        raise AccountLocked(remaining)
    try:
        kind, proven, reason = _verify_answer(user=user, code=code, credential=credential, state=state)
    except Exception as exc:
        if dependency_failed(exc) is not None:  # nothing was compared: the attempt counts for nothing
            from bouncer.users.signin import signin_attempt_give_back

            signin_attempt_give_back(username=username)
        raise
    if proven is None:
        data = {"factor": kind, **({"reason": reason} if reason else {})}
        audit_record(action=AuditAction.MFA_FAILED, request=request, user=user, method=method, data=data)
        if lockout_record_failure(username=username, place=place):
            audit_record(action=AuditAction.ACCOUNT_LOCKED, request=request, user=user, username=username, method=method)
        if kind == "webauthn":
            raise webauthn.WebAuthnRejected()
        raise MfaCodeInvalid()
    lockout_reset(username=username)
    action = AuditAction.RECOVERY_CODE_USED if kind == "recovery_code" else AuditAction.MFA_SUCCEEDED
    audit_record(action=action, request=request, user=user, method=method, data={"factor": kind})
    return proven


def _verify_answer(*, user, code, credential, state) -> tuple[str, str | None, str]:
    """(factor kind, the amr it proves or None, why it was refused when the audit row should say)."""
    if credential is not None:
        try:
            factor = webauthn.authentication_complete(user=user, state=state or {}, response=credential)
        except webauthn.WebAuthnCloned:
            # A right signature whose counter did not move forward: a copy of the key is in use.
            return "webauthn", None, "cloned"
        except webauthn.WebAuthnRejected:
            return "webauthn", None, ""
        return "webauthn", webauthn_amr(factor), ""
    code = code if isinstance(code, str) else ""
    compact = "".join(code.split())
    if compact.isdigit():
        return "totp", assurance.OTP if totp.totp_verify(user=user, code=compact) else None, ""
    return "recovery_code", assurance.OTP if recovery.recovery_code_use(user=user, code=code) else None, ""


def webauthn_amr(factor) -> str:
    attachment = factor.data.get("credential", {}).get("authenticatorAttachment")
    return assurance.SWK if attachment == "platform" else assurance.HWK


def mfa_authenticate(*, request: HttpRequest | None, raw, code=None, credential=None) -> SecondStep:
    """Complete a sign-in waiting for its second step: the step, for the caller to issue its credential."""
    row = challenge_find(raw=raw, purposes=(ChallengePurpose.SIGNIN, ChallengePurpose.ENROL))
    user = row.user
    first = assurance.amr_normalize(row.data.get("amr"))
    if row.purpose == ChallengePurpose.ENROL:
        # The factor was proven when it was enrolled with this mfa_token.
        second = row.data.get("enrolled")
        if not second:
            raise MfaEnrolmentIncomplete()
        if lockout_remaining(username=user.get_username()) is not None:
            from bouncer.users.signin import AccountLocked

            raise AccountLocked()
    else:
        if code in (None, "") and credential is None:
            raise MfaCodeInvalid("Send the code (or the security key's answer) with the mfa_token.")
        _attempt_reserve(row)
        try:
            second = factor_verify(
                request=request, user=user, code=code, credential=credential, state=row.data.get("webauthn_state"), method=row.method
            )
        except (MfaCodeInvalid, webauthn.WebAuthnRejected):
            raise  # a wrong answer: its attempt stays counted
        except BaseException:
            # Refused before anything was compared (throttled, locked): the attempt is given back.
            MfaChallenge.objects.filter(pk=row.pk).update(failures=F("failures") - 1)
            raise
    with transaction.atomic():
        challenge_spend(row)
    if row.purpose == ChallengePurpose.ENROL:
        # The sign-in is complete now (factor_verify clears the count for a code step).
        lockout_reset(username=user.get_username())
    return SecondStep(
        user=user, method=row.method, issue=row.issue, options=row.data.get("options", {}), amr=assurance.amr_add_second(first, second)
    )


def _attempt_reserve(row: MfaChallenge) -> None:
    """Take one of the challenge's attempts before the answer is compared, in one conditional UPDATE.

    Counting after the comparison let answers sent at once all pass the
    "attempts left" test of ``challenge_find``: ten parallel guesses on one
    ``mfa_token`` were ten guesses, whatever ``TOKEN_ATTEMPTS`` said.
    """
    if not MfaChallenge.objects.filter(
        pk=row.pk, used_at__isnull=True, failures__lt=settings.BOUNCER_MFA["TOKEN_ATTEMPTS"]
    ).update(failures=F("failures") + 1):
        raise MfaTokenInvalid()


def enrolment_challenge_mark(*, row: MfaChallenge, proven: str) -> None:
    """An ``mfa_enrol`` sign-in enrolled its first factor (which proved ``proven``): it can complete now."""
    MfaChallenge.objects.filter(pk=row.pk, used_at__isnull=True).update(data={**row.data, "enrolled": proven})


class MfaNothingToReset(DomainError):
    code = "mfa_nothing_to_reset"
    default_detail = "This user has no second factor."


@dataclass(frozen=True)
class MfaReset:
    factors: tuple[str, ...]
    revoked: int


def mfa_factors_reset(*, user, request: HttpRequest | None, by: str, operator: str = "") -> MfaReset:
    """An operator's answer to "I lost every factor": remove them all, and end every sign-in.

    Every factor row of the user goes (TOTP, security keys and passkeys,
    recovery codes), with the sign-ins waiting for a second step and the
    step-ups; one ``MFA_REMOVED`` row says what went, how (``by``: ``command``,
    ``admin``) and who did it (``operator``, the staff user of the admin).
    Then every credential of every kind ends (credential registry): whoever
    holds the lost phone or key must not stay signed in. The user signs in
    again with the password (and enrols a factor again when one is required).
    Refuses a user without any factor (``MfaNothingToReset``): nothing changes.
    """
    from allauth.mfa.models import Authenticator

    from bouncer.core import credentials

    with transaction.atomic():
        factors = Authenticator.objects.select_for_update().filter(user_id=user.pk).order_by("pk")
        kinds = tuple(factor.type for factor in factors)
        if not kinds:
            raise MfaNothingToReset()
        for factor in factors:
            factor.delete()  # one by one: receivers.py keeps User.mfa_enabled in step
        MfaChallenge.objects.filter(user_id=user.pk).delete()
        StepUp.objects.filter(user_id=user.pk).delete()
        audit_record(
            action=AuditAction.MFA_REMOVED, request=request, user=user, method=by,
            data={"factors": sorted(set(kinds)), "count": len(kinds), "reason": credentials.MFA_RESET, **({"operator": operator} if operator else {})},
        )
    user.refresh_from_db()
    revoked = credentials.credential_revoke_all(user=user, request=request, reason=credentials.MFA_RESET)
    return MfaReset(factors=kinds, revoked=revoked)
