"""Passwordless sign-in with a passkey (``BOUNCER_MFA_PASSKEY_LOGIN``): the passkey is the only factor asked for.

Two requests, like every WebAuthn ceremony: ``passkey_signin_begin`` gives
request options with no ``allowCredentials`` (the authenticator offers the
passkeys it holds for this RP ID) and user verification required, and keeps
the ceremony's state on a ``PASSKEY_SIGNIN`` challenge whose secret is the
``passkey_token``; ``passkey_signin`` takes the browser's answer. The answer
names its user (``userHandle``); the signature must verify with one of that
user's own keys (another user's key, a wrong origin or RP ID, a replayed or
cloned answer: ``WebAuthnRejected``). Then the sign-in flow's rules after a
proof (``users/signin.signin_external``): per-account throttle, lockout,
inactive refused, unverified email when verification is mandatory, audit.

A passkey with user verification is something held unlocked by something
known or been: ``amr`` is ``swk``/``hwk`` + ``mfa``, so no second step is owed.
The ``passkey_token`` is spent by the first answer, right or wrong: one try
per ceremony. A refused answer is counted by the per-address throttle
(``login``) and audited, but not toward the lockout: a signature cannot be
guessed, and the ``userHandle`` is only the account's number, so counting it
would let anyone lock any account.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from bouncer.audit.models import AuditAction
from bouncer.audit.services import audit_record
from bouncer.core import assurance
from bouncer.core.exceptions import DomainError, InvalidCredentials
from bouncer.multifactor import webauthn
from bouncer.multifactor.models import ChallengePurpose
from bouncer.multifactor.services import MFA_SCOPE, MfaTokenInvalid, challenge_create, challenge_find, challenge_spend, webauthn_amr
from bouncer.users.lockout import lockout_reset
from bouncer.users.signin import SignInResult, signin_external, signin_throttle_address

METHOD = "passkey"
#: Per-address throttle scopes: starting a ceremony (cheap, but a row), and answering it (a sign-in attempt).
BEGIN_SCOPE = MFA_SCOPE
SIGNIN_SCOPE = "login"


class PasskeyLoginDisabled(DomainError):
    status_code = 404
    code = "not_found"
    default_detail = "Not found."


class PasskeyTokenInvalid(DomainError):
    status_code = 401
    code = "passkey_token_invalid"
    default_detail = "This passkey sign-in has expired or was already used. Start again."


def passkey_login_enabled() -> bool:
    return bool(settings.BOUNCER_MFA["PASSKEY_LOGIN"])


def passkey_signin_begin(*, request: HttpRequest | None) -> tuple[str, dict]:
    """(passkey_token, options for ``navigator.credentials.get()``)."""
    if not passkey_login_enabled():
        raise PasskeyLoginDisabled()
    if request is not None:
        signin_throttle_address(request=request, scope=BEGIN_SCOPE)
    options, state = webauthn.authentication_begin(user=None)
    raw, _ = challenge_create(user=None, purpose=ChallengePurpose.PASSKEY_SIGNIN, method=METHOD, data={"state": state})
    return raw, options


def _refused(*, request: HttpRequest | None, user, reason: str) -> webauthn.WebAuthnRejected:
    audit_record(
        action=AuditAction.LOGIN_FAILED, request=request, user=user, username=getattr(user, "username", ""), method=METHOD,
        data={"factor": "webauthn", "reason": reason},
    )
    return webauthn.WebAuthnRejected()



def passkey_signin(*, request: HttpRequest | None, raw, credential, record: bool = True) -> SignInResult:
    """The user whose passkey answered the ceremony of ``raw``, through the flow's rules; a complete result.

    Unknown ``userHandle``, another user's key, an inactive account and a
    refused signature all answer alike (``WebAuthnRejected``). ``record=False``
    leaves the ``LOGIN_SUCCEEDED`` row to the caller's finisher (a session).
    """
    if not passkey_login_enabled():
        raise PasskeyLoginDisabled()
    if request is not None:
        signin_throttle_address(request=request, scope=SIGNIN_SCOPE)
    try:
        row = challenge_find(raw=raw, purposes=(ChallengePurpose.PASSKEY_SIGNIN,))
        challenge_spend(row)
    except MfaTokenInvalid:
        raise PasskeyTokenInvalid() from None
    user = webauthn.passkey_user(credential)
    if user is None:
        raise _refused(request=request, user=None, reason="passkey_unknown")
    try:
        factor = webauthn.authentication_complete(user=user, state=row.data.get("state") or {}, response=credential)
    except webauthn.WebAuthnRejected:
        raise _refused(request=request, user=user, reason="passkey_invalid") from None
    amr = assurance.amr_normalize([webauthn_amr(factor), assurance.MFA])
    try:
        result = signin_external(
            request=request, user=user, method=METHOD, data={"factor": "webauthn", "factor_id": factor.pk}, amr=amr, record=record
        )
    except InvalidCredentials:
        # Inactive (signin_external wrote the row): the same answer as a key nobody has.
        raise webauthn.WebAuthnRejected() from None
    # A complete sign-in, like a second step's success: the failed attempts counted so far are cleared.
    lockout_reset(username=user.get_username())
    audit_record(action=AuditAction.MFA_SUCCEEDED, request=request, user=user, method=METHOD, data={"factor": "webauthn"})
    return result
