"""The token endpoint's throttles, for a view that is not DRF's.

django-oauth-toolkit's ``TokenView`` is a plain Django view, so DRF's
throttling never runs for it. This applies the same cache-backed throttles
as the other sign-in endpoints: per client address (``OAuthTokenThrottle``,
``BOUNCER_THROTTLE_OAUTH_TOKEN``) and, for the password grant, per target
account (``AccountLoginThrottle``, ``BOUNCER_THROTTLE_LOGIN_ACCOUNT``, counted
together with every other password sign-in of that username). It answers like
RFC 6749 errors do, with ``Retry-After``.
"""

from __future__ import annotations

from functools import wraps

from django.http import JsonResponse

from bouncer.core.throttling import AccountLoginThrottle, OAuthTokenThrottle, throttle_wait


def throttle_token_requests(view_func):
    @wraps(view_func)
    def wrapped(request, *args, **kwargs):
        if request.method == "POST":
            throttles = [OAuthTokenThrottle]
            if request.POST.get("grant_type") == "password":
                throttles.append(AccountLoginThrottle)
            wait = throttle_wait(request, throttles)
            if wait:
                response = JsonResponse(
                    {"error": "rate_limited", "error_description": f"Too many requests. Retry in {wait} seconds."},
                    status=429,
                )
                response["Retry-After"] = str(wait)
                response["Cache-Control"] = "no-store"
                return response
        return view_func(request, *args, **kwargs)

    return wrapped
