"""The authenticated user, read from the shared cache instead of the database.

Session and DRF-token requests both need the user row on every request; one
cache get (Redis) costs a fraction of an ORM query (see docs/performance.md).
Correctness rests on invalidation, not on the TTL:

- every ``save()`` or ``delete()`` of a user deletes its entry (receivers), so
  a deactivation, a password change or a staff flag change is seen by the
  very next request on every node;
- the TTL (``BOUNCER_AUTH_CACHE_SECONDS``) only bounds staleness for writes
  that bypass model signals (``QuerySet.update()``); code that updates users
  that way must call ``user_cache_invalidate``.

Other caches that hold a copy of the user (DRF token entries) listen to
``user_cache_invalidated`` so one call clears every copy.

The cache is used only when ``BOUNCER_AUTH_CACHE_SECONDS`` > 0, which by
default means only when ``REDIS_URL`` is set: an in-process cache is not
shared between worker processes, so an invalidation in one would not reach
the others.
"""

from __future__ import annotations

from contextvars import ContextVar

from django.conf import settings
from django.dispatch import Signal

from bouncer.core.modelcache import cache_fill, cache_invalidate, cache_read, model_fingerprint, model_restore, model_snapshot
from bouncer.users.models import User

#: Sent with ``user_id`` whenever a user's cached copies must go.
user_cache_invalidated = Signal()


def auth_cache_enabled() -> bool:
    return settings.BOUNCER_AUTH_CACHE_SECONDS > 0


def user_cache_key(user_id) -> str:
    return f"auth:user:{model_fingerprint(User)}:{user_id}"


#: A user row fetched together with the session (bouncer.users.sessions),
#: handed to the backend's get_user within the same request and thread.
_prefetched: ContextVar[tuple | None] = ContextVar("bouncer_prefetched_user", default=None)


def user_cache_prefetched_set(*, user_id, snapshot) -> None:
    _prefetched.set((str(user_id), snapshot) if snapshot is not None else None)


def user_cache_prefetched_take(*, user_id) -> User | None:
    """The user prefetched for ``user_id`` in this request, once; else None."""
    entry = _prefetched.get()
    if entry is None:
        return None
    _prefetched.set(None)
    if entry[0] != str(user_id):
        return None
    return model_restore(User, entry[1])


def _user_from_db(user_id) -> User | None:
    try:
        return User._default_manager.get(pk=user_id)  # get(), not first(): no ORDER BY
    except (User.DoesNotExist, ValueError):
        return None


def user_cache_get(*, user_id) -> User | None:
    """The user with this id (from the cache when enabled), or None."""
    if not auth_cache_enabled():
        return _user_from_db(user_id)
    user = model_restore(User, cache_read(user_cache_key(user_id)))
    if user is None:
        user = _user_from_db(user_id)
        if user is not None:
            user_cache_put(user=user)
    return user


def user_cache_put(*, user: User) -> None:
    if auth_cache_enabled():
        cache_fill(user_cache_key(user.pk), model_snapshot(user), timeout=settings.BOUNCER_AUTH_CACHE_SECONDS)


def user_cache_invalidate(*, user_id) -> None:
    cache_invalidate([user_cache_key(user_id)])
    user_cache_invalidated.send(sender=User, user_id=user_id)
