"""How a credential's holder signed in: ``amr`` (RFC 8176) and ``acr``, one vocabulary for every kind.

Every credential records the methods of the sign-in that made it: a session
(``bouncer_amr`` in the session), a DRF token (its row), a JWT (the ``amr``
claim of the access token, carried through rotations by the refresh token),
an OpenID Connect id_token (``amr`` and ``acr`` claims). This module only
names the values and derives ``acr``; it imports no kind.

Values: ``pwd`` a password; ``fed`` a social provider's sign-in (not in RFC
8176; the value Microsoft Entra uses); ``otp`` a TOTP or a recovery code;
``hwk`` a roaming security key, ``swk`` a platform authenticator (passkey on
the device); ``mfa`` added once two factors were proven, or a passkey with
user verification (something held, unlocked by something known or been).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

PWD = "pwd"
FED = "fed"
OTP = "otp"
HWK = "hwk"
SWK = "swk"
MFA = "mfa"

#: ``acr`` values (NIST SP 800-63B's assurance levels, short form).
ACR_SINGLE = "aal1"
ACR_MFA = "aal2"

#: The session key holding a session's amr.
SESSION_AMR_KEY = "bouncer_amr"


def amr_normalize(values: Iterable[str] | str | None) -> tuple[str, ...]:
    """A tuple of known values, de-duplicated, in order; accepts the space-separated stored form."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = values.split()
    elif isinstance(values, Mapping) or not isinstance(values, Iterable):
        return ()  # not a form any credential stores (a claim of another shape): nothing known
    known = (PWD, FED, OTP, HWK, SWK, MFA)
    seen: list[str] = []
    for value in values:
        if value in known and value not in seen:
            seen.append(value)
    return tuple(seen)


def amr_or_password(values: Iterable[str] | str | None) -> tuple[str, ...]:
    """The amr a credential records, or ``("pwd",)`` when it records none.

    Credentials issued before amr was recorded (a JWT without the claim, a
    row or a session from before the column) were all signed in with a
    single factor: reading them as ``pwd`` never claims more than was proven.
    """
    return amr_normalize(values) or (PWD,)


def amr_add_second(first: Iterable[str], second: str) -> tuple[str, ...]:
    return amr_normalize([*first, second, MFA])


def amr_is_mfa(amr: Iterable[str] | str | None) -> bool:
    return MFA in amr_normalize(amr)


def acr_for(amr: Iterable[str] | str | None) -> str:
    return ACR_MFA if amr_is_mfa(amr) else ACR_SINGLE


def amr_stored(amr: Iterable[str] | str | None) -> str:
    """The form kept in a row or a cache entry: values separated by spaces."""
    return " ".join(amr_normalize(amr))
