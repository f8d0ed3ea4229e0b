"""DRF token rows in the shared cache, keyed by digest (see bouncer.users.usercache).

A revoked token's entry is deleted with its row (a ``post_delete`` receiver
fires for every deletion path: logout, password change, same-device
replacement, admin, purge), so revocation is immediate on every node.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from bouncer.core.modelcache import model_fingerprint, model_restore, model_snapshot
from bouncer.tokens.opaque.models import DeviceToken
from bouncer.users.usercache import auth_cache_enabled


def _key(digest: str) -> str:
    return f"auth:token:{model_fingerprint(DeviceToken)}:{digest}"


def token_cache_get(*, digest: str) -> DeviceToken | None:
    if not auth_cache_enabled():
        return None
    return model_restore(DeviceToken, cache.get(_key(digest)))


def token_cache_put(*, token: DeviceToken) -> None:
    if auth_cache_enabled():
        cache.set(_key(token.digest), model_snapshot(token), timeout=settings.BOUNCER_AUTH_CACHE_SECONDS)


def token_cache_invalidate(*, digest: str) -> None:
    cache.delete(_key(digest))
