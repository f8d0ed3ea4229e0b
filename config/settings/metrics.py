"""Prometheus metrics at /metrics (bouncer/core/metrics.py, docs/operations.md#metrics).

Closed by default: only the addresses or networks in ``BOUNCER_METRICS_ALLOW_IPS``
or a request bearing ``BOUNCER_METRICS_TOKEN`` may read it; everyone else gets 404.
Both are checked here, at start-up, so a typo fails fast instead of locking
Prometheus out (or, worse, a short secret that can be guessed).
"""

import ipaddress

from django.core.exceptions import ImproperlyConfigured

from config.settings import env

#: A bearer secret shorter than this is refused: /metrics has no throttle, so it must not be guessable.
METRICS_TOKEN_MIN_LENGTH = 16


def _allow_ips(entries: list[str]) -> list[str]:
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"BOUNCER_METRICS_ALLOW_IPS: {entry!r} is not an address or a network (192.0.2.7, 10.0.0.0/8, 2001:db8::/32)"
            ) from None
    return entries


def _token(value: str) -> str:
    value = value.strip()
    if value and len(value) < METRICS_TOKEN_MIN_LENGTH:
        raise ImproperlyConfigured(
            f"BOUNCER_METRICS_TOKEN must be at least {METRICS_TOKEN_MIN_LENGTH} characters (e.g. `openssl rand -hex 32`)"
        )
    return value


BOUNCER_METRICS = {
    "ALLOW_IPS": _allow_ips(env.METRICS_ALLOW_IPS),
    "TOKEN": _token(env.METRICS_TOKEN),
    # Set: serve the sum of every worker's files in this directory (gunicorn.conf.py).
    "MULTIPROC_DIR": env.METRICS_MULTIPROC_DIR.strip(),
}
