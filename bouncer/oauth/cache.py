"""OAuth2 access-token rows, with their user, in the shared cache.

Same scheme as DRF tokens (bouncer/tokens/opaque/cache.py): one entry per
token checksum holds the token's and its user's columns, so a Bearer request
costs one cache get and no query. The raw ``token`` column is blanked before
caching: the cache never holds a usable token. Entries are deleted:

- with the token row (``post_save``/``post_delete`` of ``AccessToken``:
  revocation, refresh rotation, reuse detection, consent withdrawn, purge);
- whenever the user is invalidated (``user_cache_invalidated``).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from oauth2_provider.models import get_access_token_model

from bouncer.core.modelcache import cache_fill, cache_invalidate, cache_read, model_fingerprint, model_restore, model_snapshot
from bouncer.users.models import User
from bouncer.users.usercache import auth_cache_enabled


def _key(checksum: str) -> str:
    return f"auth:oauth:{model_fingerprint(get_access_token_model())}:{model_fingerprint(User)}:{checksum}"


def access_token_cache_get(*, checksum: str):
    """The access token with ``user`` attached (None for client tokens), or None on a miss."""
    if not auth_cache_enabled():
        return None
    entry = cache_read(_key(checksum))
    if not isinstance(entry, tuple) or len(entry) != 2:
        return None
    token = model_restore(get_access_token_model(), entry[0])
    if token is None:
        return None
    if token.user_id is None:
        token.user = None
        return token
    user = model_restore(User, entry[1])
    if user is None or token.user_id != user.pk:
        return None
    token.user = user
    return token


def access_token_cache_put(*, token) -> None:
    if auth_cache_enabled():
        snapshot = list(model_snapshot(token))
        names = [field.attname for field in token._meta.concrete_fields]
        snapshot[names.index("token")] = ""  # never cache a usable token
        user = model_snapshot(token.user) if token.user_id else None
        cache_fill(_key(token.token_checksum), (tuple(snapshot), user), timeout=settings.BOUNCER_AUTH_CACHE_SECONDS)


def access_token_cache_invalidate(*, checksums: Iterable[str]) -> None:
    cache_invalidate([_key(checksum) for checksum in checksums if checksum])
