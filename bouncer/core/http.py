"""Small HTTP helpers shared by several apps."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address: REMOTE_ADDR, or X-Forwarded-For's last hop behind our proxy.

    The one place the client address is computed: the audit log, the
    throttles (through ``client_bucket``) and anything else that needs it
    call this, so they always agree on who the client is. ``NUM_PROXIES``
    (DRF's setting, the same rule DRF's own ``get_ident`` uses) says how many
    hops to trust. An IPv4-mapped IPv6 address (``::ffff:192.0.2.7``, what a
    dual-stack socket reports) is the IPv4 address it carries.
    """
    num_proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    address = None
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if num_proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            address = _parse_address(hops[-min(num_proxies, len(hops))])
    if address is None:
        # No hop, or one we cannot read: the peer (our proxy) is the next best
        # answer, so an unreadable hop shares the proxy's throttle bucket
        # instead of escaping every per-address throttle.
        address = _parse_address(request.META.get("REMOTE_ADDR") or "")
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address) if address is not None else None


def _parse_address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address, also as some proxies write it with its port (``192.0.2.7:4711``, ``[2001:db8::7]:4711``)."""
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def client_bucket(request: HttpRequest) -> str | None:
    """Whose requests a per-address throttle counts together.

    An IPv4 address is one bucket; for IPv6 the bucket is the /64, because
    one subscriber is routinely given a whole /64 (RFC 6177) and can pick a
    fresh address from it for every request.
    """
    address = client_ip(request)
    if address is None:
        # No readable address at all (a unix socket without BOUNCER_BEHIND_PROXY):
        # one shared bucket, so the throttle fails closed, not open.
        return "unknown"
    if ":" not in address:
        return address
    return str(ipaddress.ip_network(f"{address.split('%')[0]}/64", strict=False))


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
