"""Temporary lockout of a username after repeated failed sign-ins.

Keyed by ``account_ident`` (a hash of the normalised username as typed,
the same key as the per-account throttle), so it works the same for names
that do not exist (no account enumeration) and costs no query.
Counters live in the cache (Redis in production, shared by every node); the
count and the lock use atomic cache operations (``add`` + ``incr``) so
parallel attempts cannot slip past the limit.

Trade-off, documented in docs/security.md: anyone can lock a known username
for ``BOUNCER_LOCKOUT_SECONDS``; the per-address throttle bounds how fast.
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache

from bouncer.core.throttling import account_ident


def _failures_key(username: str) -> str:
    return f"lockout:failures:{account_ident(username)}"


def _lock_key(username: str) -> str:
    return f"lockout:locked:{account_ident(username)}"


def lockout_remaining(*, username: str) -> int | None:
    """Seconds the username stays locked (for ``Retry-After``), or None when it is not locked.

    The lock's value is the time it ends, so the answer is the truth, not
    the full lockout period again for every refused attempt.
    """
    until = cache.get(_lock_key(username))
    if until is None:
        return None
    return max(1, math.ceil(float(until) - time.time()))


def lockout_active(*, username: str) -> bool:
    return lockout_remaining(username=username) is not None


def lockout_record_failure(*, username: str) -> bool:
    """Count one failure; returns True when this failure locks the username."""
    window = settings.BOUNCER_LOCKOUT_SECONDS
    key = _failures_key(username)
    cache.add(key, 0, timeout=window)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)
        failures = 1
    if failures >= settings.BOUNCER_LOCKOUT_ATTEMPTS:
        # add() is atomic: only the attempt that creates the lock reports it.
        locked_now = cache.add(_lock_key(username), time.time() + window, timeout=window)
        cache.delete(key)
        return locked_now
    return False


def lockout_reset(*, username: str) -> None:
    cache.delete(_failures_key(username))
