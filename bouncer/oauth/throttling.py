"""The token endpoint's per-address throttle, for a view that is not DRF's.

django-oauth-toolkit's ``TokenView`` is a plain Django view, so DRF's
throttling never runs for it. This applies the same cache-backed throttle
(``OAuthTokenThrottle``, rate ``BOUNCER_THROTTLE_OAUTH_TOKEN`` read per
request) and answers like RFC 6749 errors do, with ``Retry-After``.
"""

from __future__ import annotations

import math
from functools import wraps

from django.http import JsonResponse

from bouncer.core.throttling import OAuthTokenThrottle


def throttle_token_requests(view_func):
    @wraps(view_func)
    def wrapped(request, *args, **kwargs):
        if request.method == "POST":
            throttle = OAuthTokenThrottle()
            if not throttle.allow_request(request, None):
                wait = max(1, math.ceil(throttle.wait() or 1))
                response = JsonResponse(
                    {"error": "rate_limited", "error_description": f"Too many requests. Retry in {wait} seconds."},
                    status=429,
                )
                response["Retry-After"] = str(wait)
                response["Cache-Control"] = "no-store"
                return response
        return view_func(request, *args, **kwargs)

    return wrapped
