"""WebAuthn security keys and passkeys: python-fido2's server, allauth's factor rows; Bouncer's state and checks.

allauth keeps a ceremony's state in the session (``context.request.session``);
an API sign-in has no session, so the state travels in the ``MfaChallenge``
row of the ceremony instead, and these functions take and give it. fido2
checks the challenge, the RP ID hash and the signature; the origin is checked
against the configured list (``BOUNCER_WEBAUTHN_ORIGINS``), never against the
request's host; the signature counter, which fido2 leaves to its caller, is
checked and stored here (a counter that does not move forward is a cloned
authenticator, refused), under a row lock.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from allauth.account.utils import url_str_to_user_pk
from allauth.mfa.models import Authenticator
from allauth.mfa.webauthn.internal.auth import (
    EXTENSIONS,
    WebAuthn,
    build_user_payload,
    get_credentials,
    parse_authentication_response,
    parse_registration_response,
)
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from fido2.server import Fido2Server
from fido2.utils import websafe_decode
from fido2.webauthn import (
    PublicKeyCredentialRpEntity,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from bouncer.core.exceptions import DomainError

NAME_MAX = 64


class WebAuthnRejected(DomainError):
    code = "webauthn_invalid"
    default_detail = "The security key's answer was not accepted."


class WebAuthnCloned(WebAuthnRejected):
    """The signature counter went backwards or stood still: two authenticators share a key."""


def origin_allowed(origin: str) -> bool:
    conf = settings.BOUNCER_MFA
    if origin in conf["ORIGINS"]:
        return True
    if conf["LOCALHOST_ORIGINS"] and conf["RP_ID"] == "localhost":
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.hostname == "localhost"
    return False


def _server() -> Fido2Server:
    conf = settings.BOUNCER_MFA
    return Fido2Server(PublicKeyCredentialRpEntity(id=conf["RP_ID"], name=conf["RP_NAME"]), verify_origin=origin_allowed)


def _jsonable(options) -> dict:
    return dict(options)


def registration_begin(*, user, passwordless: bool) -> tuple[dict, dict]:
    """(creation options for ``navigator.credentials.create``, state to keep until the answer)."""
    options, state = _server().register_begin(
        user=build_user_payload(user),
        credentials=get_credentials(user),
        resident_key_requirement=ResidentKeyRequirement.REQUIRED if passwordless else ResidentKeyRequirement.DISCOURAGED,
        user_verification=UserVerificationRequirement.REQUIRED if passwordless else UserVerificationRequirement.PREFERRED,
        extensions=EXTENSIONS,
    )
    return _jsonable(options), dict(state)


def registration_complete(*, user, state: dict, credential: Any, name: str) -> Authenticator:
    """The new factor, when ``credential`` answers ``state``'s challenge from an allowed origin."""
    if not isinstance(credential, dict):
        raise WebAuthnRejected()
    try:
        parse_registration_response(credential)
        auth_data = _server().register_complete(state, credential)
    except (ValidationError, ValueError, TypeError, KeyError) as exc:
        raise WebAuthnRejected() from exc
    if auth_data.credential_data is None:
        raise WebAuthnRejected()
    wanted = auth_data.credential_data.credential_id
    if any(existing.credential_id == wanted for existing in get_credentials(user)):
        raise WebAuthnRejected("This security key is already registered.")
    factor = WebAuthn.add(user, (name or "Security key").strip()[:NAME_MAX], credential).instance
    factor.data["sign_count"] = auth_data.counter
    factor.save(update_fields=["data"])
    return factor


def authentication_begin(*, user) -> tuple[dict, dict]:
    """Request options for ``navigator.credentials.get``: the user's keys, or any passkey (``user=None``)."""
    options, state = _server().authenticate_begin(
        credentials=get_credentials(user) if user is not None else [],
        user_verification=UserVerificationRequirement.PREFERRED if user is not None else UserVerificationRequirement.REQUIRED,
    )
    return _jsonable(options), dict(state)


def passkey_user(response: Any):
    """The user a passkey's answer names (``userHandle``: allauth's form of the pk, base 36), or None."""
    try:
        handle = response["response"]["userHandle"]
        pk = url_str_to_user_pk(websafe_decode(handle).decode("ascii"))
    except (KeyError, TypeError, ValueError, UnicodeError):
        return None
    return get_user_model().objects.filter(pk=pk).first()


def authentication_complete(*, user, state: dict, response: Any) -> Authenticator:
    """The user's factor that signed ``state``'s challenge; ``WebAuthnRejected`` for anything else."""
    if not isinstance(response, dict) or not state:
        raise WebAuthnRejected()
    try:
        parsed = parse_authentication_response(response)
        matched = _server().authenticate_complete(state, get_credentials(user), response)
    except (ValidationError, ValueError, TypeError, KeyError) as exc:
        raise WebAuthnRejected() from exc
    counter = parsed.response.authenticator_data.counter
    with transaction.atomic():
        for factor in Authenticator.objects.select_for_update().filter(user_id=user.pk, type=Authenticator.Type.WEBAUTHN):
            wrapped = factor.wrap()
            if wrapped.authenticator_data.credential_data.credential_id != matched.credential_id:
                continue
            stored = int(factor.data.get("sign_count", 0))
            # Both zero: an authenticator without a counter (many passkeys). Else it must move forward.
            if (counter or stored) and counter <= stored:
                raise WebAuthnCloned()
            factor.data["sign_count"] = counter
            factor.last_used_at = timezone.now()
            factor.save(update_fields=["data", "last_used_at"])
            return factor
    raise WebAuthnRejected()


def webauthn_is_passkey(factor: Authenticator) -> bool:
    return bool(WebAuthn(factor).is_passwordless)


def webauthn_name(factor: Authenticator) -> str:
    return WebAuthn(factor).name
