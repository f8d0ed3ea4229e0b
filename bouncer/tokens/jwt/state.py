"""Is a sign-in (refresh-token family) still valid? Read on every JWT request.

The state of a family ("ok" or "revoked") and its user's row are read in one
cache round trip (``get_many``) when the shared auth cache is on, and filled
from the database on a miss — so a cache flush costs queries, never a
forgotten revocation. Revoking writes the database, then tombstones the
cached state (bouncer.core.modelcache), so the next request on every node
reads the revocation. Without the shared cache: one query (family + user).
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from bouncer.core.modelcache import cache_fill, cache_invalidate, model_restore
from bouncer.tokens.jwt.models import JwtFamily
from bouncer.users.models import User
from bouncer.users.usercache import auth_cache_enabled, user_cache_get, user_cache_key

OK = "ok"
REVOKED = "revoked"


def family_state_key(family_id) -> str:
    return f"auth:jwtfam:{family_id}"


def family_principal(*, family_id: str, user_id) -> tuple[str, User | None]:
    """(state, user) for an access token's ``fam`` and ``sub``."""
    if not auth_cache_enabled():
        row = JwtFamily.objects.select_related("user").filter(pk=family_id, user_id=user_id).first()
        if row is None:
            return REVOKED, None
        return (REVOKED if row.revoked_at else OK), row.user
    fam_key, user_key = family_state_key(family_id), user_cache_key(user_id)
    found = cache.get_many([fam_key, user_key])
    state = found.get(fam_key)
    if state not in (OK, REVOKED):
        row = JwtFamily.objects.filter(pk=family_id, user_id=user_id).values_list("revoked_at", flat=True)
        state = REVOKED if not row or row[0] is not None else OK
        cache_fill(fam_key, state, timeout=settings.BOUNCER_JWT["ACCESS_LIFETIME_SECONDS"] * 2)
    user = model_restore(User, found.get(user_key)) or user_cache_get(user_id=user_id)
    return state, user


def family_state_invalidate(family_ids) -> None:
    cache_invalidate([family_state_key(family_id) for family_id in family_ids])
