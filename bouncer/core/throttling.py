"""Throttles for the sign-in endpoints, cache-backed (Redis when configured).

DRF's ``SimpleRateThrottle`` copies ``DEFAULT_THROTTLE_RATES`` into a class
attribute at import time; these read the rate from settings at call time, so
``BOUNCER_THROTTLE_*`` and ``override_settings`` always apply.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class _SettingsRateThrottle(SimpleRateThrottle):
    def __init__(self) -> None:  # the parent reads the rate here; we do it per call
        pass

    def allow_request(self, request, view):
        self.rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][self.scope]
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


class ClientAddressThrottle(_SettingsRateThrottle):
    """Per client address; ``scope`` is set by the subclass or the view."""

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginThrottle(ClientAddressThrottle):
    scope = "login"


class TokenLoginThrottle(ClientAddressThrottle):
    scope = "token"


class RefreshThrottle(ClientAddressThrottle):
    scope = "refresh"


class RegisterThrottle(ClientAddressThrottle):
    scope = "register"


class AccountLoginThrottle(_SettingsRateThrottle):
    """Per target account, whatever address the attempts come from.

    Keyed by a hash of the lower-cased username as typed, so it costs no
    query and behaves the same whether or not the account exists.
    """

    scope = "login_account"

    def get_cache_key(self, request, view):
        if request.method != "POST":
            return None
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if not isinstance(username, str) or not username:
            return None
        ident = hashlib.sha256(username.lower().encode("utf-8", "replace")).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": ident}
