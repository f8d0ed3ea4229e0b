"""``Authorization: Token <key>``: the DRF token header, checked against a hash."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from bouncer.core.credentials import credential_seen
from bouncer.tokens.opaque.cache import token_cache_get, token_cache_put
from bouncer.tokens.opaque.models import MAX_KEY_LENGTH, DeviceToken, token_digest

KEYWORD = b"token"


class OpaqueTokenAuthentication(BaseAuthentication):
    """Looks the key's SHA-256 up: in the shared cache (one get holding the
    token and its user, no query) when ``BOUNCER_AUTH_CACHE_SECONDS`` is on,
    else in one query joined with the user.

    Returns ``None`` when the header is not ``Token ...`` so other classes get
    their turn; raises 401 when it is ours and bad. Comparing digests in the
    database is safe against timing attacks: an attacker who could learn a
    digest prefix still cannot choose keys that hash to it.
    """

    keyword = "Token"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid token header."), code="token_invalid")
        key = self.get_key(parts[1])
        token = self.get_token(key)
        return token.user, token

    def get_key(self, raw: bytes) -> str:
        if len(raw) > MAX_KEY_LENGTH:
            raise exceptions.AuthenticationFailed(_("Invalid token."), code="token_invalid")
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token."), code="token_invalid") from None

    def get_token(self, key: str) -> DeviceToken:
        digest = token_digest(key)
        token = token_cache_get(digest=digest)
        if token is None:
            try:
                # get(), not first(): no ORDER BY on the hot path.
                token = DeviceToken.objects.select_related("user").get(digest=digest)
            except DeviceToken.DoesNotExist:
                token = None
            else:
                credential_seen(row=token)  # the coarse "last used": on a database read only
                token_cache_put(token=token)
        if token is None or token.expires_at <= timezone.now() or not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid or expired token."), code="token_invalid")
        return token

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="bouncer"'
