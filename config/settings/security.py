"""Production hardening, switched on by BOUNCER_ENV=production alone; the
headers, the Content-Security-Policy and CORS, the same in every mode."""

from urllib.parse import urlsplit

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.settings import env
from config.settings.jwt import BOUNCER_JWT

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Every answer (pages, JSON, static files; csp.middleware.CSPMiddleware).
# Scripts only from files Bouncer serves: no inline script, no eval, no
# 'unsafe-inline' anywhere (the Swagger UI runs its start-up code from a file:
# config/urls.py). `form-action` is left out on purpose: Chromium applies it
# to the redirects after a form post, and the consent and social sign-in
# forms end in a redirect to the client's or the provider's origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # data: for the favicon placeholder and Swagger UI's inline SVG icons.
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    },
}


def _cors_origin(origin: str) -> str:
    """An origin a browser sends (``scheme://host[:port]``), or start-up fails.

    ``null`` (sandboxed frames, file: pages, some redirects: anyone can send
    it) and ``*`` (with credentials: every site) would open the API to any page.
    """
    parts = urlsplit(origin)
    if origin in ("null", "*") or parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        raise ImproperlyConfigured(
            f"BOUNCER_CORS_ALLOWED_ORIGINS: {origin!r} is not an origin (scheme://host[:port], no path, not null or *)"
        )
    return origin.lower()


# CORS (django-cors-headers): closed unless BOUNCER_CORS_ALLOWED_ORIGINS names
# an origin; only the API and the OAuth2 endpoints, never the HTML pages.
# django-oauth-toolkit answers `*` (never with credentials) on its public
# documents (OIDC discovery, its JWKS), which any page may read, and its token
# endpoint answers an application's own "allowed origins" (admin), per client.
# Credentials (cookies) only for the listed origins: the library answers
# Access-Control-Allow-Origin with the one matching origin, never `*`.
CORS_ALLOWED_ORIGINS = [_cors_origin(origin) for origin in env.CORS_ALLOWED_ORIGINS]
CORS_ALLOW_CREDENTIALS = True
CORS_URLS_REGEX = r"^/(o/|api/(?!docs/))"  # /api/docs/ is an HTML page
CORS_ALLOW_HEADERS = ("authorization", "content-type", "x-csrftoken")
CORS_PREFLIGHT_MAX_AGE = 600

# An origin trusted with credentialed calls whose answers it reads is trusted
# with unsafe ones too: a cookie-mode SPA's POST carries its Origin, which
# Django's CSRF check (and the sign-in endpoints' SameOriginOrNonBrowser)
# must accept. So the CORS origins are CSRF-trusted as well, and one variable
# configures an SPA (docs/sessions.md, "Single-page apps on another origin").
CSRF_TRUSTED_ORIGINS = list(dict.fromkeys([*env.CSRF_TRUSTED_ORIGINS, *CORS_ALLOWED_ORIGINS]))

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

#: Audit rows older than this many days are pruned as Bouncer runs (0: kept forever).
BOUNCER_AUDIT_RETENTION_DAYS = env.AUDIT_RETENTION_DAYS

CSRF_FAILURE_VIEW = "bouncer.core.handlers.csrf_failure"
