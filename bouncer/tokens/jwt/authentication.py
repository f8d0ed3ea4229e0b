"""``Authorization: Bearer <JWT>`` (or the access cookie): Bouncer's own JWTs only.

Returns ``None`` for a Bearer value that is not a JWT signed by Bouncer (an
opaque OAuth2 token, another issuer's JWT, an unknown ``kid``), so the
classes after it get their turn; raises 401 with a stable ``code`` when the
value is ours and bad. One cache round trip per request, no query, when
nothing is revoked (bouncer.tokens.jwt.state).
"""

from __future__ import annotations

import jwt
from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, CSRFCheck, get_authorization_header

from bouncer.core.exceptions import error_body
from bouncer.tokens.jwt.codec import ACCESS, InvalidJwt, jwt_decode, jwt_verified
from bouncer.tokens.jwt.keys import key_ring
from bouncer.tokens.jwt.state import REVOKED, family_principal


def _fail(code: str, message: str):
    return exceptions.AuthenticationFailed(error_body(message, code))


class JwtAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        raw, from_cookie = self.get_raw_token(request)
        if raw is None:
            return None
        if len(raw) > settings.BOUNCER_JWT["MAX_TOKEN_BYTES"]:
            raise _fail("token_invalid", "Token is too large.")
        try:
            # A token this process verified before is ours; else check cheaply first.
            claims = jwt_verified(raw, token_type=ACCESS)
            if claims is None:
                if not self.is_ours(raw):
                    return None
                claims = jwt_decode(raw, token_type=ACCESS)
        except InvalidJwt as exc:
            raise _fail(exc.code, exc.message) from None
        state, user = family_principal(family_id=claims["fam"], user_id=claims["sub"])
        if state == REVOKED or user is None or not user.is_active:
            raise _fail("token_revoked", "Token has been revoked.")
        if from_cookie:
            self.enforce_csrf(request)
        return user, claims

    def get_raw_token(self, request) -> tuple[str | None, bool]:
        parts = get_authorization_header(request).split()
        if parts:
            if parts[0].lower() != b"bearer" or len(parts) != 2:
                return None, False
            try:
                return parts[1].decode("ascii"), False
            except UnicodeDecodeError:
                return None, False
        cookie = request.COOKIES.get(settings.BOUNCER_JWT["ACCESS_COOKIE"])
        return (cookie, True) if cookie else (None, False)

    def is_ours(self, raw: str) -> bool:
        """Cheap checks without verifying: our algorithm, our key id, our issuer."""
        conf = settings.BOUNCER_JWT
        try:
            header = jwt.get_unverified_header(raw)
            unverified = jwt.decode(raw, options={"verify_signature": False})
        except jwt.PyJWTError:
            return False
        if not isinstance(unverified, dict) or unverified.get("iss") != conf["ISSUER"]:
            return False
        if conf["ALGORITHM"] != "HS256" and header.get("alg") == conf["ALGORITHM"]:
            # An unknown kid is not ours (another issuer, or a retired key).
            return any(key.kid == header.get("kid") for key in key_ring())
        # Anything else claiming our issuer is verified strictly (and fails on
        # a wrong algorithm: alg none, HS/RS confusion).
        return True

    def enforce_csrf(self, request) -> None:
        """Cookie-authenticated unsafe requests need the CSRF token, like sessions."""

        def dummy_get_response(request):  # pragma: no cover - never called
            return None

        check = CSRFCheck(dummy_get_response)
        check.process_request(request)
        reason = check.process_view(request, None, (), {})
        if reason:
            raise exceptions.PermissionDenied(f"CSRF Failed: {reason}")

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="bouncer"'
