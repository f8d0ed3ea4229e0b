"""Production hardening, switched on by BOUNCER_ENV=production alone."""

from config.settings import env
from config.settings.jwt import BOUNCER_JWT

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

if env.BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

if env.PRODUCTION:
    SECURE_SSL_REDIRECT = True
    # Health probes and the Prometheus scrape come from inside the network, over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env.HSTS_SECONDS
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.HSTS_PRELOAD
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Cookie prefixes (RFC 6265bis 4.1.3): a browser accepts a __Host- cookie
    # only if it is Secure, Path=/ and has no Domain, so a sibling subdomain or
    # a plain-http page cannot plant or overwrite it (session fixation, CSRF
    # token injection). Only over HTTPS, hence production only. An SPA reads
    # the CSRF cookie by this name (docs/deployment.md, "Cookie names").
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    BOUNCER_JWT = {
        **BOUNCER_JWT,
        "ACCESS_COOKIE": "__Host-bouncer_access",
        # Scoped to REFRESH_COOKIE_PATH (/api/token/), which __Host- forbids;
        # __Secure- still keeps an http page from setting it.
        "REFRESH_COOKIE": "__Secure-bouncer_refresh",
    }

CSRF_FAILURE_VIEW = "bouncer.core.handlers.csrf_failure"
