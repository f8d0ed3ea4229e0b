"""Signing and verifying Bouncer's JWTs with PyJWT.

Why not simplejwt's ``TokenBackend`` and token classes: they sign without a
``kid`` and verify with one key (no rotation), read their settings once at
import, and simplejwt's blacklist app stores every raw refresh token
(``OutstandingToken.token``). What is left of simplejwt after replacing those
is its views, which are a few lines each. PyJWT does the cryptography here,
with the algorithm pinned on both sides.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import jwt
from django.conf import settings

from bouncer.tokens.jwt.keys import hs_secret, key_ring

ACCESS = "access"
REFRESH = "refresh"


class InvalidJwt(Exception):
    """Not a valid Bouncer JWT; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def jwt_encode(*, claims: dict, token_type: str, issued_at: datetime, lifetime: int) -> tuple[str, str]:
    """Sign ``claims`` plus the registered ones; returns (token, jti)."""
    conf = settings.BOUNCER_JWT
    jti = str(uuid.uuid4())
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


def looks_like_jwt(raw: str) -> bool:
    """Three base64url segments whose header names our algorithm: cheap, no crypto."""
    try:
        header = jwt.get_unverified_header(raw)
    except jwt.PyJWTError:
        return False
    return header.get("alg") == settings.BOUNCER_JWT["ALGORITHM"] and header.get("typ", "JWT") == "JWT"


def jwt_decode(raw: str, *, token_type: str) -> dict:
    """Verify signature, algorithm, exp, nbf, iat, iss, aud and token_type."""
    conf = settings.BOUNCER_JWT
    if len(raw) > conf["MAX_TOKEN_BYTES"]:
        raise InvalidJwt("token_invalid", "Token is too large.")
    algorithm = conf["ALGORITHM"]
    try:
        header = jwt.get_unverified_header(raw)
    except jwt.PyJWTError:
        raise InvalidJwt("token_invalid", "Token is malformed.") from None
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
    if claims.get("token_type") != token_type:
        raise InvalidJwt("token_wrong_type", f"Token is not an {token_type} token." if token_type == ACCESS else f"Token is not a {token_type} token.")
    return claims
