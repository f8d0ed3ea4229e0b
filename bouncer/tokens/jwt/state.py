"""Is a sign-in (refresh-token family) still valid? Read on every JWT request.

One cache entry per family holds its state ("ok" or "revoked") and a copy of
its user's row, so an access-token request is one cache get and no query. On
a miss both are read from the database (one query) — a cache flush costs
queries, never a forgotten revocation. Revoking writes the database, then
tombstones the entry (bouncer.core.modelcache), so the next request on every
node reads the revocation; a change to the user tombstones the entries of all
the user's families (``user_cache_invalidated``). Without the shared cache:
one query per request.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from bouncer.core import credentials
from bouncer.core.modelcache import cache_fill, cache_invalidate, cache_read, model_fingerprint, model_restore, model_snapshot
from bouncer.tokens.jwt.models import JwtFamily
from bouncer.users.models import User
from bouncer.users.usercache import auth_cache_enabled

OK = "ok"
REVOKED = "revoked"


def family_state_key(family_id) -> str:
    return f"auth:jwtfam:{model_fingerprint(User)}:{family_id}"


def family_principal(*, family_id: str, user_id) -> tuple[str, User | None]:
    """(state, user) for an access token's ``fam`` and ``sub``."""
    if auth_cache_enabled():
        entry = cache_read(family_state_key(family_id))
        if isinstance(entry, tuple) and len(entry) == 2 and entry[0] in (OK, REVOKED):
            user = model_restore(User, entry[1])
            if user is not None and str(user.pk) == str(user_id):
                return entry[0], user
    row = JwtFamily.objects.select_related("user").filter(pk=family_id, user_id=user_id).first()
    if row is None:
        return REVOKED, None
    state = REVOKED if row.revoked_at else OK
    if state == OK:
        credentials.credential_seen(row=row)
    if auth_cache_enabled():
        cache_fill(
            family_state_key(family_id),
            (state, model_snapshot(row.user)),
            timeout=settings.BOUNCER_JWT["ACCESS_LIFETIME_SECONDS"] + settings.BOUNCER_JWT["LEEWAY_SECONDS"],
        )
    return state, row.user


def family_state_invalidate(family_ids) -> None:
    cache_invalidate([family_state_key(family_id) for family_id in family_ids])


def family_state_invalidate_for_user(user_id) -> None:
    """Drop the cached copies of a user held by their live families."""
    live = JwtFamily.objects.filter(user_id=user_id, expires_at__gt=timezone.now()).values_list("pk", flat=True)
    family_state_invalidate(list(live))
