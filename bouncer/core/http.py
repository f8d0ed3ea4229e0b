"""Small HTTP helpers shared by several apps."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address: REMOTE_ADDR, or X-Forwarded-For's last hop behind our proxy.

    Uses the same rule as DRF's throttles (``NUM_PROXIES``) so the audit log
    and the throttles agree on who the client is.
    """
    num_proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    candidate = request.META.get("REMOTE_ADDR")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if num_proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            candidate = hops[-min(num_proxies, len(hops))]
    try:
        return str(ipaddress.ip_address(candidate)) if candidate else None
    except ValueError:
        return None
