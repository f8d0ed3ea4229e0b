"""Small HTTP helpers shared by several apps."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


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


def safe_next_url(request: HttpRequest, candidate: str | None, *, default: str) -> str:
    """``candidate`` when it stays on this site (no open redirect), else ``default``.

    Only relative paths and absolute URLs to this host are accepted; over
    HTTPS the scheme must stay HTTPS. ``//evil.example``, ``https://evil.example``,
    ``javascript:`` and backslash tricks are refused by Django's own check.
    """
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default
