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
cache calls in the in-process cache), whatever the rate. Refused attempts count too: a client that keeps
hammering stays refused until it slows down. Rates are read from settings at
call time, so ``BOUNCER_THROTTLE_*`` and ``override_settings`` always apply.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache, caches
from django_redis.cache import RedisCache
from rest_framework.throttling import BaseThrottle

_DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"10/min"`` → (10, 60): number of requests, window in seconds."""
    count, period = rate.split("/")
    return int(count), _DURATIONS[period.strip()[0]]


def counter_hit(key: str, *, duration: int, now: float | None = None) -> tuple[float, float]:
    """Count one request on ``key``; returns (requests in the sliding window, seconds to the window's end)."""
    now = time.time() if now is None else now
    window = int(now // duration)
    current, previous = f"throttle:{key}:{window}", f"throttle:{key}:{window - 1}"
    if isinstance(caches["default"], RedisCache):  # ``cache`` itself is a proxy
        count, before = _redis_hit(current, previous, timeout=2 * duration)
    else:
        try:
            count = cache.incr(current)
        except ValueError:  # first request of this window (or the entry expired)
            count = 1 if cache.add(current, 1, timeout=2 * duration) else cache.incr(current)
        before = cache.get(previous, 0)
    elapsed = now - window * duration
    return count + before * (duration - elapsed) / duration, duration - elapsed


def _redis_hit(current: str, previous: str, *, timeout: int) -> tuple[int, int]:
    """INCR, EXPIRE and the previous window's GET in one round trip.

    django-redis's own ``incr`` runs a Lua script (sent in full every time) to
    refuse missing keys, and the GET would be a second round trip; here a
    pipeline does both, and EXPIRE on every hit keeps the key at most
    ``timeout`` past its last use. django-redis stores integers as plain
    Redis integers, so the counters stay readable through ``cache.get``.
    """
    client = cache.client.get_client(write=True)
    pipe = client.pipeline(transaction=False)
    key = cache.make_key(current)
    pipe.incr(key)
    pipe.expire(key, timeout)
    pipe.get(cache.make_key(previous))
    count, _, before = pipe.execute()
    return int(count), int(before or 0)


class CounterThrottle(BaseThrottle):
    """One scope's rate from ``DEFAULT_THROTTLE_RATES``; subclasses say whose requests count together."""

    scope: str = ""

    def get_ident_key(self, request, view) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get(self.scope)
        ident = self.get_ident_key(request, view) if rate else None
        if ident is None:
            return True
        limit, duration = parse_rate(rate)
        estimate, self._window_left = counter_hit(f"{self.scope}:{ident}", duration=duration)
        return estimate <= limit

    def wait(self) -> float | None:
        # The current window's end: by then at most the weighted previous count is left.
        return math.ceil(getattr(self, "_window_left", 0)) or None


class ClientAddressThrottle(CounterThrottle):
    """Per client address (``NUM_PROXIES`` decides which address); ``scope`` set by the subclass."""

    def get_ident_key(self, request, view) -> str | None:
        return self.get_ident(request)


class LoginThrottle(ClientAddressThrottle):
    scope = "login"


class TokenLoginThrottle(ClientAddressThrottle):
    scope = "token"


class RefreshThrottle(ClientAddressThrottle):
    scope = "refresh"


class OAuthTokenThrottle(ClientAddressThrottle):
    """/o/token/ (not a DRF view: applied by bouncer.oauth.throttling)."""

    scope = "oauth_token"


class RegisterThrottle(ClientAddressThrottle):
    scope = "register"


class AccountLoginThrottle(CounterThrottle):
    """Per target account, whatever address the attempts come from.

    Keyed by a hash of the lower-cased username as typed, so it costs no
    query and behaves the same whether or not the account exists.
    """

    scope = "login_account"

    def get_ident_key(self, request, view) -> str | None:
        if request.method != "POST":
            return None
        # DRF's parsed body, or a plain Django view's form (the HTML sign-in page).
        data = request.data if hasattr(request, "data") else request.POST
        username = data.get("username") if hasattr(data, "get") else None
        if not isinstance(username, str) or not username:
            return None
        return hashlib.sha256(username.lower().encode("utf-8", "replace")).hexdigest()[:32]


def throttle_wait(request, throttle_classes) -> int | None:
    """The throttles above for a plain Django view (an HTML page).

    Counts the request on every throttle, as DRF's ``check_throttles`` does,
    and returns the seconds to wait when one refuses it, else ``None``.
    """
    waits = []
    for throttle_class in throttle_classes:
        throttle = throttle_class()
        if not throttle.allow_request(request, None):
            waits.append(throttle.wait() or 1)
    return max(1, math.ceil(max(waits))) if waits else None
