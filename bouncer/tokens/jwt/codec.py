"""Signing and verifying Bouncer's JWTs with PyJWT.

Why not simplejwt's ``TokenBackend`` and token classes: they sign without a
``kid`` and verify with one key (no rotation), read their settings once at
import, and simplejwt's blacklist app stores every raw refresh token
(``OutstandingToken.token``). What is left of simplejwt after replacing those
is its views, which are a few lines each. PyJWT does the cryptography here,
with the algorithm pinned on both sides.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from datetime import datetime

import jwt
from django.conf import settings

from bouncer.core.digests import sha256_hex
from bouncer.tokens.jwt.keys import hs_secret, key_ring

ACCESS = "access"
REFRESH = "refresh"


class InvalidJwt(Exception):
    """Not a valid Bouncer JWT; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): 48 bits of Unix milliseconds, then random.

    Refresh-token ids are the primary key of an ever-growing, ever-purged
    table; ids that increase with time are appended at the right edge of its
    index instead of landing on a random page of it (uuid4), which keeps
    inserts cheap as the table grows. Python 3.14 has ``uuid.uuid7``; 3.11 does not.
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)


def jwt_encode(
    *, claims: dict, token_type: str, issued_at: datetime, lifetime: int, jti: uuid.UUID | None = None
) -> tuple[str, str]:
    """Sign ``claims`` plus the registered ones; returns (token, jti)."""
    conf = settings.BOUNCER_JWT
    jti = str(jti or uuid7())
    now = int(issued_at.timestamp())
    payload = {
        **claims,
        "token_type": token_type,
        "jti": jti,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "iss": conf["ISSUER"],
        "aud": conf["AUDIENCE"],
    }
    algorithm = conf["ALGORITHM"]
    if algorithm == "HS256":
        return jwt.encode(payload, hs_secret(), algorithm="HS256"), jti
    current = key_ring()[0]
    return jwt.encode(payload, current.private, algorithm=algorithm, headers={"kid": current.kid}), jti


#: Tokens whose signature and claims this process has verified, with the key
#: that verified them. Verification is a pure function of the token and the
#: key, so a repeat use skips the signature check (~150 us for ES256) as long
#: as that key is still in the ring; time-based claims are re-checked on
#: every use, and revocation is checked by the caller every time.
_VERIFIED: dict[tuple, tuple[dict, str | None, str | None]] = {}
_VERIFIED_MAX = 20_000


def _key_id(header_kid: str | None) -> str | None:
    """The id of the key that verifies now: a kid in the ring, or the HS secret's hash."""
    if settings.BOUNCER_JWT["ALGORITHM"] == "HS256":
        return sha256_hex(hs_secret())
    return header_kid if any(key.kid == header_kid for key in key_ring()) else None


def _verified_key(raw: str) -> tuple:
    conf = settings.BOUNCER_JWT
    return (raw, conf["ALGORITHM"], conf["ISSUER"], conf["AUDIENCE"])


def jwt_verified(raw: str, *, token_type: str) -> dict | None:
    """Claims of a token this process already verified (times re-checked), else None."""
    entry = _VERIFIED.get(_verified_key(raw))
    if entry is None:
        return None
    claims, kid, key_id = entry
    if _key_id(kid) != key_id:
        return None
    leeway, now = settings.BOUNCER_JWT["LEEWAY_SECONDS"], time.time()
    if now > claims["exp"] + leeway:
        raise InvalidJwt("token_expired", "Token has expired.")
    if now < claims["nbf"] - leeway:
        raise InvalidJwt("token_not_yet_valid", "Token is not valid yet.")
    _check_type(claims, token_type)
    return claims


def unverified_header(raw: str) -> dict | None:
    """The JOSE header, to pick the key: None unless it is a JSON object.

    ``jwt.get_unverified_header`` decodes and checks all three segments, and
    ``jwt.decode`` then does it again; the header alone is enough here, and
    PyJWT still checks the whole token when it verifies it.
    """
    segment = raw.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, TypeError, RecursionError):  # binascii.Error and JSONDecodeError are ValueErrors;
        return None  # a header of nested arrays ("[[[[...") exhausts the parser's recursion limit
    return header if isinstance(header, dict) else None


def _check_type(claims: dict, token_type: str) -> None:
    if claims.get("token_type") != token_type:
        article = "an" if token_type == ACCESS else "a"
        raise InvalidJwt("token_wrong_type", f"Token is not {article} {token_type} token.")


def jwt_decode(raw: str, *, token_type: str) -> dict:
    """Verify signature, algorithm, exp, nbf, iat, iss, aud and token_type."""
    conf = settings.BOUNCER_JWT
    if len(raw) > conf["MAX_TOKEN_BYTES"]:
        raise InvalidJwt("token_invalid", "Token is too large.")
    cached = jwt_verified(raw, token_type=token_type)
    if cached is not None:
        return cached
    algorithm = conf["ALGORITHM"]
    header = unverified_header(raw)
    if header is None:
        raise InvalidJwt("token_invalid", "Token is malformed.")
    if header.get("alg") != algorithm:
        raise InvalidJwt("token_invalid", "Token algorithm is not accepted.")
    if algorithm == "HS256":
        key = hs_secret()
    else:
        key = next((k.public for k in key_ring() if k.kid == header.get("kid")), None)
        if key is None:
            raise InvalidJwt("token_invalid", "Token was signed with an unknown key.")
    try:
        claims = jwt.decode(
            raw,
            key,
            algorithms=[algorithm],
            audience=conf["AUDIENCE"],
            issuer=conf["ISSUER"],
            leeway=conf["LEEWAY_SECONDS"],
            options={"require": ["exp", "nbf", "iat", "iss", "aud", "jti", "token_type", "fam", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidJwt("token_expired", "Token has expired.") from None
    except jwt.ImmatureSignatureError:
        raise InvalidJwt("token_not_yet_valid", "Token is not valid yet.") from None
    except jwt.PyJWTError:
        raise InvalidJwt("token_invalid", "Token is invalid.") from None
    _check_type(claims, token_type)
    if token_type == ACCESS:  # refresh tokens are used once: remembering them would only evict access tokens
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[_verified_key(raw)] = (claims, header.get("kid"), _key_id(header.get("kid")))
    return claims
