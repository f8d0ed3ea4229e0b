"""Temporary lockout of a username after repeated failed sign-ins.

Keyed by ``account_ident`` (a hash of the normalised username as typed,
the same key as the per-account throttle), so it works the same for names
that do not exist (no account enumeration) and costs no query.
Counters live in the cache (Redis in production, shared by every node); the
count and the lock use atomic cache operations (``add`` + ``incr``) so
parallel attempts cannot slip past the limit: an attempt reserves its place
in the count (``lockout_attempt_begin``) *before* its password is looked at,
and a failure keeps it (``lockout_record_failure``), a success clears the
count (``lockout_reset``). Counting only after the check, N guesses sent at
once all passed the "not locked" test before the first one was counted.

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
    left = None if until is None else float(until) - time.time()
    if left is None or left <= 0:
        # The value, not the entry's expiry, says when the lock ends: a cache
        # may keep the entry a moment longer, and the lock must not outlive it.
        return None
    return max(1, math.ceil(left))


def lockout_active(*, username: str) -> bool:
    return lockout_remaining(username=username) is not None


def lockout_attempt_begin(*, username: str) -> tuple[int | None, int]:
    """Reserve one attempt on the username before its password is checked.

    Returns (seconds to wait, None when the attempt may go on; the attempt's
    place in the failure count). Refused while locked, and when the attempts
    already in flight use up the allowance: they may still lock the account,
    so the answer is the whole lockout period.
    """
    remaining = lockout_remaining(username=username)
    if remaining is not None:
        return remaining, 0
    window = settings.BOUNCER_LOCKOUT_SECONDS
    key = _failures_key(username)
    cache.add(key, 0, timeout=window)
    try:
        place = cache.incr(key)
    except ValueError:  # expired between add and incr
        place = 1 if cache.add(key, 1, timeout=window) else cache.incr(key)
    if place > settings.BOUNCER_LOCKOUT_ATTEMPTS:
        return lockout_remaining(username=username) or window, place
    # Read the lock again after reserving: an attempt that read "not locked"
    # just before a racing failure set the lock and deleted the count (in that
    # order) got a fresh low place from the deleted count, but sees the lock
    # here. Without this it had its password checked: one guess past the limit.
    remaining = lockout_remaining(username=username)
    if remaining is not None:
        return remaining, 0
    return None, place


def lockout_record_failure(*, username: str, place: int) -> bool:
    """The attempt reserved at ``place`` failed (it stays counted); True when it locks the username."""
    window = settings.BOUNCER_LOCKOUT_SECONDS
    if place >= settings.BOUNCER_LOCKOUT_ATTEMPTS:
        # add() is atomic: only the attempt that creates the lock reports it.
        locked_now = cache.add(_lock_key(username), time.time() + window, timeout=window)
        cache.delete(_failures_key(username))  # after the lock: see lockout_attempt_begin
        return locked_now
    return False


def lockout_attempt_release(*, username: str) -> None:
    """The attempt reserved by ``lockout_attempt_begin`` was no failure, but the sign-in is not complete.

    A right password of a user who still owes a second step: its place is
    given back, and the failures counted before it (wrong passwords, wrong
    codes) stand until the second step succeeds (``lockout_reset``). A reset
    here would let anyone holding the password wipe the count of wrong codes
    with every new sign-in, so the lockout would never come.
    """
    key = _failures_key(username)
    try:
        left = cache.decr(key)
    except ValueError:  # expired or reset meanwhile: nothing to give back
        return
    if left < 0:  # the count expired between the cache's check and its DECR: no count without a TTL
        cache.delete(key)


def lockout_reset(*, username: str) -> None:
    cache.delete(_failures_key(username))


def lockout_clear(*, username: str) -> None:
    """Lift the lock and the count (a password reset proved who owns the account)."""
    cache.delete_many([_failures_key(username), _lock_key(username)])
