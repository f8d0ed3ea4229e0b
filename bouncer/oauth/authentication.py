"""``Authorization: Bearer <token>`` for OAuth2 access tokens issued at /o/token/.

Comes right after ``JwtAuthentication``, which returns None for Bearer values
that are not Bouncer's JWTs; every other Bearer value is treated as an OAuth2
access token here and is refused (401) when it is not a live one.

Subclasses django-oauth-toolkit's ``OAuth2Authentication`` (so ``request.auth``
is its ``AccessToken`` and its scope permissions work) but replaces its
``authenticate``: the toolkit builds an oauthlib request per call and also
reads ``access_token`` from the query string and form body, which Bouncer
refuses (tokens leak from URLs into logs). The lookup is by the token's
SHA-256 checksum, the toolkit's own index: one cache get holding the token and
its user when the auth cache is on (no query), else one query joined with
the user.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.models import get_access_token_model
from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header

from bouncer.core.credentials import credential_seen
from bouncer.core.digests import sha256_hex
from bouncer.core.exceptions import error_body
from bouncer.oauth.cache import access_token_cache_get, access_token_cache_put


def _fail(code: str, message: str):
    return exceptions.AuthenticationFailed(error_body(message, code))


class OAuth2BearerAuthentication(OAuth2Authentication):
    keyword = "Bearer"
    www_authenticate_realm = "bouncer"

    def authenticate(self, request):
        raw = self.get_raw_token(request)
        if raw is None:
            return None
        token = self.get_access_token(raw)
        if token is None or token.is_expired():
            raise _fail("token_invalid", "Invalid or expired token.")
        if token.user_id is not None and not token.user.is_active:
            raise _fail("token_invalid", "Invalid or expired token.")
        if token.resource and not token.allows_audience(request.build_absolute_uri(request.path)):
            # RFC 8707: a token bound to another resource server is not for us.
            raise _fail("token_invalid", "Token is not valid for this resource.")
        # A client-credentials token acts for no user: signed in as a client,
        # so endpoints about a user answer 403, not 401.
        return (token.user if token.user_id is not None else AnonymousUser()), token

    def get_raw_token(self, request) -> str | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2 or len(parts[1]) > settings.BOUNCER_OAUTH["MAX_TOKEN_BYTES"]:
            raise _fail("token_invalid", "Invalid token header.")
        try:
            return parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise _fail("token_invalid", "Invalid token header.") from None

    def get_access_token(self, raw: str):
        checksum = sha256_hex(raw)
        token = access_token_cache_get(checksum=checksum)
        if token is None:
            try:
                # get(), not first(): no ORDER BY on the hot path.
                token = get_access_token_model().objects.select_related("user").get(token_checksum=checksum)
            except get_access_token_model().DoesNotExist:
                return None
            # The authorization's coarse "last used" is the toolkit's own ``updated`` column.
            credential_seen(row=token, field="updated")
            access_token_cache_put(token=token)
        return token

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="{self.www_authenticate_realm}"'
