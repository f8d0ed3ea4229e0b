"""DRF token rows, with their user, in the shared cache (see bouncer.users.usercache).

One entry per token digest holds the token's and its user's columns, so a
token request costs one cache get and no query. The token's columns include
its ``amr`` (how the user signed in), so ``MfaVerified`` costs nothing more;
the key carries a fingerprint of the columns, so an entry cached before a
column was added is a miss, never a row restored without it. Entries are deleted:

- with the token row (``post_delete``: logout, password change, same-device
  replacement, admin, purge), so revocation is immediate on every node;
- whenever the user row is saved or deleted (deactivation, password or staff
  change), by a receiver that looks up that user's token digests.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings

from bouncer.core.modelcache import cache_fill, cache_invalidate, cache_read, model_fingerprint, model_restore, model_snapshot
from bouncer.tokens.opaque.models import DeviceToken
from bouncer.users.models import User
from bouncer.users.usercache import auth_cache_enabled


def _key(digest: str) -> str:
    return f"auth:token:{model_fingerprint(DeviceToken)}:{model_fingerprint(User)}:{digest}"


def token_cache_get(*, digest: str) -> DeviceToken | None:
    """The token with its ``user`` attached, or None on a miss."""
    if not auth_cache_enabled():
        return None
    entry = cache_read(_key(digest))
    if not isinstance(entry, tuple) or len(entry) != 2:
        return None
    token, user = model_restore(DeviceToken, entry[0]), model_restore(User, entry[1])
    if token is None or user is None or token.user_id != user.pk:
        return None
    token.user = user
    return token


def token_cache_put(*, token: DeviceToken) -> None:
    if auth_cache_enabled():
        entry = (model_snapshot(token), model_snapshot(token.user))
        cache_fill(_key(token.digest), entry, timeout=settings.BOUNCER_AUTH_CACHE_SECONDS)


def token_cache_invalidate(*, digests: Iterable[str]) -> None:
    cache_invalidate([_key(digest) for digest in digests])
