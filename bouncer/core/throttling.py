"""Throttles for the sign-in endpoints: atomic sliding-window counters in the cache.

Why not DRF's ``SimpleRateThrottle``: it keeps the time of every request in
one cache entry as a list and writes the list back after reading it. Two
concurrent requests each append to their own copy and one write is lost, so
a parallel burst gets past the limit; and the list grows with the rate, so
every throttled request reads and writes up to ``num_requests`` pickled
floats. It also copies ``DEFAULT_THROTTLE_RATES`` into a class attribute at
import time.

Here each (scope, client) has one integer counter per fixed window of the
rate's duration, incremented atomically (``INCR`` in Redis; under a lock in
the in-process cache), and the previous window's count is weighted by how
much of it the sliding window still covers (the estimate Cloudflare and
nginx-style limiters use). One Redis round trip per request (two small
cache calls in the in-process cache), whatever the rate and however many
scopes one request counts on (the sign-in flow counts per address and per
account in the same pipeline).

A refused request is not counted (its increment is taken back), and its
``Retry-After`` is the time until the sliding estimate, with no other
request in between, lets one request through: a client that waits exactly
that long is not refused again. (Counting refused attempts, as before,
pushed the window forward on every 429, so an obedient client was refused a
second time.) Rates are read from settings at call time, so
``BOUNCER_THROTTLE_*`` and ``override_settings`` always apply.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache, caches
from django_redis.cache import RedisCache
from rest_framework.throttling import BaseThrottle

from bouncer.core import metrics
from bouncer.core.http import client_bucket
from bouncer.core.identifiers import identifier_normalize

_DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: Float slack when comparing an estimate with its limit (times are floats).
_EPSILON = 1e-9


def parse_rate(rate: str) -> tuple[int, int]:
    """``"10/min"`` → (10, 60): number of requests, window in seconds."""
    count, period = rate.split("/")
    return int(count), _DURATIONS[period.strip()[0]]


def scope_rate(scope: str) -> tuple[int, int] | None:
    """(limit, seconds) of a scope in ``DEFAULT_THROTTLE_RATES``, read now; None when unset."""
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get(scope)
    return parse_rate(rate) if rate else None


def account_ident(username: str) -> str:
    """The one key for "this account" in throttles and the lockout.

    A hash of the username in the form sign-in compares it in (NFKC, then
    casefold), so every spelling of one account shares its counters: it costs
    no query and behaves the same whether or not the account exists (no
    enumeration).
    """
    return hashlib.sha256(identifier_normalize(username).encode("utf-8", "replace")).hexdigest()[:32]


def _keys(key: str, now: float, duration: int) -> tuple[str, str, float]:
    window = int(now // duration)
    return f"throttle:{key}:{window}", f"throttle:{key}:{window - 1}", now - window * duration


def _incr_all(pairs: list[tuple[str, str]], *, timeouts: list[int]) -> list[tuple[int, int]]:
    """INCR each current window key and read each previous one: one round trip with Redis."""
    if isinstance(caches["default"], RedisCache):  # ``cache`` itself is a proxy
        return _redis_hit(pairs, timeouts=timeouts)
    out = []
    for (current, previous), timeout in zip(pairs, timeouts, strict=True):
        try:
            count = cache.incr(current)
        except ValueError:  # first request of this window (or the entry expired)
            count = 1 if cache.add(current, 1, timeout=timeout) else cache.incr(current)
        out.append((count, cache.get(previous, 0)))
    return out


def _redis_hit(pairs: list[tuple[str, str]], *, timeouts: list[int]) -> list[tuple[int, int]]:
    """INCR, EXPIRE and the previous window's GET of every key in one round trip.

    django-redis's own ``incr`` runs a Lua script (sent in full every time) to
    refuse missing keys, and the GET would be a second round trip; here a
    pipeline does all of them, and EXPIRE on every hit keeps the key at most
    ``timeout`` past its last use. django-redis stores integers as plain
    Redis integers, so the counters stay readable through ``cache.get``.
    """
    client = cache.client.get_client(write=True)
    pipe = client.pipeline(transaction=False)
    for (current, previous), timeout in zip(pairs, timeouts, strict=True):
        key = cache.make_key(current)
        pipe.incr(key)
        pipe.expire(key, timeout)
        pipe.get(cache.make_key(previous))
    answers = pipe.execute()
    return [(int(answers[i]), int(answers[i + 2] or 0)) for i in range(0, len(answers), 3)]


def _take_back(keys: list[str]) -> None:
    """Undo the increments of a refused request (refused attempts do not count)."""
    if isinstance(caches["default"], RedisCache):
        client = cache.client.get_client(write=True)
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.decr(cache.make_key(key))
        pipe.execute()
        return
    for key in keys:
        try:
            cache.decr(key)
        except ValueError:  # expired meanwhile: nothing left to take back
            pass


def _estimate(count: float, before: float, *, duration: int, elapsed: float) -> float:
    return count + before * (duration - elapsed) / duration


def _wait(count: int, before: int, *, limit: int, duration: int, elapsed: float) -> float:
    """Seconds until one more request fits, if nobody else sends one meanwhile.

    ``count`` and ``before`` are the current and previous windows' counts
    without the refused request. Within this window the previous count's
    weight keeps falling; past its end the current count becomes the
    previous one and its weight falls in turn.
    """
    left = duration - elapsed
    room = limit - count - 1
    if room >= 0 and before > 0:
        # estimate(w) = count + 1 + before * (left - w) / duration <= limit
        needed = left - room * duration / before
        if needed < left:
            return max(0.0, needed)
    # Next window: 1 + count * (duration - e) / duration <= limit.
    if count <= limit - 1:
        return left
    return left + min(duration, duration - (limit - 1) * duration / count)


@dataclass(frozen=True)
class Hit:
    """One scope to count a request on: the scope name and whose requests count together."""

    scope: str
    ident: str


def throttle_hit(hits: list[Hit], *, now: float | None = None) -> int | None:
    """Count one request on every scope; None when all allow it, else the seconds to wait.

    A refused request is taken back from every counter, so it neither pushes
    the window forward nor uses up another scope's allowance; each scope that
    refused it counts one throttled request (``bouncer_throttled_requests_total``).
    """
    now = time.time() if now is None else now
    scopes, active, pairs, timeouts, elapsed_of = [], [], [], [], []
    for hit in hits:
        rate = scope_rate(hit.scope)
        if rate is None or not hit.ident:
            continue
        current, previous, elapsed = _keys(f"{hit.scope}:{hit.ident}", now, rate[1])
        scopes.append(hit.scope)
        active.append(rate)
        pairs.append((current, previous))
        timeouts.append(2 * rate[1])
        elapsed_of.append(elapsed)
    if not active:
        return None
    waits, refusing = [], []
    counted = _incr_all(pairs, timeouts=timeouts)
    for scope, (limit, duration), (count, before), elapsed in zip(scopes, active, counted, elapsed_of, strict=True):
        if _estimate(count, before, duration=duration, elapsed=elapsed) > limit + _EPSILON:
            waits.append(_wait(count - 1, before, limit=limit, duration=duration, elapsed=elapsed))
            refusing.append(scope)
    if not waits:
        return None
    _take_back([current for current, _ in pairs])
    for scope in refusing:
        metrics.throttled(scope)
    return max(1, math.ceil(max(waits) - _EPSILON))


def throttle_release(hits: list[Hit], *, now: float) -> None:
    """Take back one request counted by ``throttle_hit(hits, now=now)`` (it turned out not to count).

    For a credential sent with every request (Basic): counting it first and
    giving a success back keeps parallel failures within the limit, where
    looking first and counting failures after let a burst all pass the look.
    """
    keys = []
    for hit in hits:
        rate = scope_rate(hit.scope)
        if rate is not None and hit.ident:
            keys.append(_keys(f"{hit.scope}:{hit.ident}", now, rate[1])[0])
    if keys:
        _take_back(keys)


def throttle_peek(hits: list[Hit], *, now: float | None = None) -> int | None:
    """Like ``throttle_hit`` but counts nothing: the seconds to wait if a hit would be refused."""
    now = time.time() if now is None else now
    checks = []
    for hit in hits:
        rate = scope_rate(hit.scope)
        if rate is not None and hit.ident:
            checks.append((rate, *_keys(f"{hit.scope}:{hit.ident}", now, rate[1])))
    if not checks:
        return None
    values = cache.get_many([key for _, current, previous, _ in checks for key in (current, previous)])  # one round trip
    waits = []
    for (limit, duration), current, previous, elapsed in checks:
        count, before = int(values.get(current) or 0), int(values.get(previous) or 0)
        if _estimate(count + 1, before, duration=duration, elapsed=elapsed) > limit + _EPSILON:
            waits.append(_wait(count, before, limit=limit, duration=duration, elapsed=elapsed))
    return max(1, math.ceil(max(waits) - _EPSILON)) if waits else None


def throttle_count(hits: list[Hit], *, now: float | None = None) -> None:
    """Count one request on every scope and refuse nothing (a failure already answered)."""
    now = time.time() if now is None else now
    pairs, timeouts = [], []
    for hit in hits:
        rate = scope_rate(hit.scope)
        if rate is None or not hit.ident:
            continue
        current, previous, _ = _keys(f"{hit.scope}:{hit.ident}", now, rate[1])
        pairs.append((current, previous))
        timeouts.append(2 * rate[1])
    if pairs:
        _incr_all(pairs, timeouts=timeouts)


def counter_hit(key: str, *, duration: int, now: float | None = None) -> tuple[float, float]:
    """Count one request on ``key``; returns (requests in the sliding window, seconds to the window's end)."""
    now = time.time() if now is None else now
    current, previous, elapsed = _keys(key, now, duration)
    [(count, before)] = _incr_all([(current, previous)], timeouts=[2 * duration])
    return _estimate(count, before, duration=duration, elapsed=elapsed), duration - elapsed


class CounterThrottle(BaseThrottle):
    """One scope's rate from ``DEFAULT_THROTTLE_RATES``; subclasses say whose requests count together."""

    scope: str = ""

    def get_ident_key(self, request, view) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        ident = self.get_ident_key(request, view) if scope_rate(self.scope) else None
        if ident is None:
            return True
        self._wait = throttle_hit([Hit(self.scope, ident)])
        return self._wait is None

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


class ClientAddressThrottle(CounterThrottle):
    """Per client address (``client_bucket``: the address, or its /64 for IPv6); ``scope`` set by the subclass."""

    def get_ident_key(self, request, view) -> str | None:
        return client_bucket(request)


class UserThrottle(CounterThrottle):
    """Per signed-in user (a view behind IsAuthenticated); ``scope`` set by the subclass."""

    def get_ident_key(self, request, view) -> str | None:
        user_id = getattr(request.user, "pk", None)
        return None if user_id is None else f"user:{user_id}"


class RefreshThrottle(ClientAddressThrottle):
    scope = "refresh"


class OAuthTokenThrottle(ClientAddressThrottle):
    """/o/token/ (not a DRF view: applied by bouncer.oauth.throttling)."""

    scope = "oauth_token"


class OAuthClientThrottle(ClientAddressThrottle):
    """/o/introspect/ and /o/revoke_token/: every failed client authentication costs a hash."""

    scope = "oauth_client"


class RegisterThrottle(ClientAddressThrottle):
    scope = "register"


def throttle_wait(request, throttle_classes) -> int | None:
    """The throttles above for a plain Django view (an HTML page, the toolkit's views).

    Counts the request on every throttle and returns the seconds to wait
    when one refuses it, else ``None``.
    """
    hits = []
    for throttle_class in throttle_classes:
        throttle = throttle_class()
        ident = throttle.get_ident_key(request, None)
        if ident is not None:
            hits.append(Hit(throttle.scope, ident))
    return throttle_hit(hits)
