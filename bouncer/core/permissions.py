"""Permission classes shared across apps, one hook each."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from rest_framework.permissions import BasePermission


class SameOriginOrNonBrowser(BasePermission):
    """Refuses a cross-site browser request to an endpoint without CSRF checks.

    Login endpoints take no CSRF token (tutorial 000's curl walkthrough sends
    none), which would let another site sign a victim's browser into the
    attacker's account ("login CSRF"). Browsers always send ``Origin`` on a
    cross-site POST; curl and mobile apps send none. So: no Origin, or an
    Origin equal to this host or listed in ``CSRF_TRUSTED_ORIGINS``, passes.
    """

    message = "Cross-site request refused."

    def has_permission(self, request, view) -> bool:
        origin = request.META.get("HTTP_ORIGIN")
        if not origin:
            return True
        if origin in settings.CSRF_TRUSTED_ORIGINS:
            return True
        parts = urlsplit(origin)
        return parts.scheme == request.scheme and parts.netloc == request.get_host()
