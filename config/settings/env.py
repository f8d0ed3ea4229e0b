"""The only module that reads ``os.environ``.

Every setting Bouncer takes from the environment is read here, typed, with its
default, so the configuration table in README.md can be checked against one
file. A value that cannot be parsed fails start-up with a message naming the
variable (fail fast), instead of surfacing later as a strange runtime error.

Secrets may also be given as ``<NAME>_FILE`` pointing at a file (Docker and
Kubernetes secrets); the file's content, stripped, is the value.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} cannot be read: {exc}") from exc
    return os.environ.get(name)


def env_str(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool = False) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false)")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from exc
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}")
    return number


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of {', '.join(choices)}")
    return value


# --- the values ------------------------------------------------------------

#: ``development`` (default) or ``production``. Production turns on HTTPS
#: redirect, HSTS and Secure cookies, needs SECRET_KEY and never creates demo users.
BOUNCER_ENV = env_choice("BOUNCER_ENV", "development", ("development", "production"))
PRODUCTION = BOUNCER_ENV == "production"

DEBUG = env_bool("DJANGO_DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG=1 is refused when BOUNCER_ENV=production")

#: Where the dev server keeps what it generates (secret key, demo credentials).
LOCAL_DIR = Path(env_str("BOUNCER_LOCAL_DIR", str(BASE_DIR / "var")))


def _dev_secret_key() -> str:
    """Generate the dev secret key once and keep it in a git-ignored file."""
    # Imported here: only development needs it, and bouncer.core.files is
    # standard library only (no Django app is loaded while settings are).
    from bouncer.core.files import file_write_owner_only

    path = LOCAL_DIR / "secret_key"
    if not path.exists():
        try:
            file_write_owner_only(path, secrets.token_urlsafe(64), exclusive=True)
        except FileExistsError:
            pass  # another process started at the same moment and wrote it first: use theirs
    return path.read_text(encoding="utf-8").strip()


SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set when BOUNCER_ENV=production")
    SECRET_KEY = _dev_secret_key()
elif PRODUCTION and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long in production")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when BOUNCER_ENV=production")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

#: ``postgres://user:pass@host:5432/name``; empty means SQLite in ``var/``.
DATABASE_URL = env_str("DATABASE_URL")
DATABASE_CONN_MAX_AGE = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
#: Seconds to wait for a PostgreSQL connection before answering 503 (psycopg's
#: ``connect_timeout``): a database that does not answer fails a request fast
#: instead of holding a worker until gunicorn's timeout kills it.
DATABASE_CONNECT_TIMEOUT = env_int("BOUNCER_DATABASE_CONNECT_TIMEOUT", 5, minimum=1)
#: ``redis://host:6379/0``; empty means the in-process cache.
REDIS_URL = env_str("REDIS_URL")
#: Seconds to wait for Redis to accept a connection, and for an answer to a
#: command, before the call fails (django-redis ``SOCKET_CONNECT_TIMEOUT`` and
#: ``SOCKET_TIMEOUT``; docs/operations.md, "When a dependency fails").
REDIS_TIMEOUT = env_int("BOUNCER_REDIS_TIMEOUT", 2, minimum=1)

#: Set when a proxy terminates TLS and sends ``X-Forwarded-Proto: https``.
BEHIND_PROXY = env_bool("BOUNCER_BEHIND_PROXY", default=False)
HSTS_SECONDS = env_int("BOUNCER_HSTS_SECONDS", 31536000, minimum=0)
HSTS_PRELOAD = env_bool("BOUNCER_HSTS_PRELOAD", default=True)

#: How long the user and DRF-token rows used by every request stay in the
#: cache; 0 turns the cache off. Only safe with a cache shared by every
#: process, so it is off unless REDIS_URL is set.
AUTH_CACHE_SECONDS = env_int("BOUNCER_AUTH_CACHE_SECONDS", 300 if REDIS_URL else 0, minimum=0)

#: Basic authentication is for tests and scripts only: off unless asked for.
BASIC_AUTH_ENABLED = env_bool("BOUNCER_BASIC_AUTH", default=False)

#: Lifetime of a DRF token (``Authorization: Token ...``), in hours.
TOKEN_TTL_HOURS = env_int("BOUNCER_TOKEN_TTL_HOURS", 24 * 30, minimum=1)
#: Lifetime of a browser session, in seconds.
SESSION_AGE_SECONDS = env_int("BOUNCER_SESSION_AGE_SECONDS", 14 * 24 * 3600, minimum=60)

#: Argon2id cost; the defaults are OWASP's minimum (19 MiB, 2 passes, 1 lane).
ARGON2_MEMORY_KIB = env_int("BOUNCER_ARGON2_MEMORY_KIB", 19 * 1024, minimum=19 * 1024)
ARGON2_TIME_COST = env_int("BOUNCER_ARGON2_TIME_COST", 2, minimum=2)
ARGON2_PARALLELISM = env_int("BOUNCER_ARGON2_PARALLELISM", 1, minimum=1)

#: Raises every throttle rate, for local load tests only.
THROTTLE_RELAXED = env_bool("BOUNCER_THROTTLE_RELAXED", default=False)
THROTTLE_RATES = {
    "login": env_str("BOUNCER_THROTTLE_LOGIN", "10/min"),
    "login_account": env_str("BOUNCER_THROTTLE_LOGIN_ACCOUNT", "5/min"),
    "register": env_str("BOUNCER_THROTTLE_REGISTER", "5/hour"),
    "token": env_str("BOUNCER_THROTTLE_TOKEN", "10/min"),
    # Refreshes happen without a human every few minutes per tab, and many
    # users may share one address (an office NAT): a higher per-address rate.
    "refresh": env_str("BOUNCER_THROTTLE_REFRESH", "120/min"),
    # /o/token/: every OAuth2 grant, refreshes and machine clients included;
    # the password grant also counts toward login_account and the lockout.
    "oauth_token": env_str("BOUNCER_THROTTLE_OAUTH_TOKEN", "120/min"),
    # /o/introspect/ and /o/revoke_token/: failed client authentications
    # (each costs a hash and an audit row), per address and per client id.
    "oauth_client": env_str("BOUNCER_THROTTLE_OAUTH_CLIENT", "30/min"),
    # Social sign-in (browser callback and POST /api/auth/<provider>/), per
    # address; each also counts toward login_account once the account is known.
    "social": env_str("BOUNCER_THROTTLE_SOCIAL", "20/min"),
    # Mails a person can make Bouncer send: password reset and verification
    # resend, per address and per address-of-the-mail (the account).
    "email_send": env_str("BOUNCER_THROTTLE_EMAIL_SEND", "5/hour"),
    "email_send_account": env_str("BOUNCER_THROTTLE_EMAIL_SEND_ACCOUNT", "3/hour"),
    # Presenting a reset or verification token (guessing costs a try each).
    "email_confirm": env_str("BOUNCER_THROTTLE_EMAIL_CONFIRM", "20/hour"),
    # The second sign-in step (POST /api/auth/mfa/authenticate/, the page's
    # code form), per address; each code also counts toward login_account and
    # a wrong one toward the lockout.
    "mfa": env_str("BOUNCER_THROTTLE_MFA", "20/min"),
    # GET /api/accounts/events/, per signed-in user (each page is a count and a read).
    "account_events": env_str("BOUNCER_THROTTLE_ACCOUNT_EVENTS", "60/min"),
}

#: Failed sign-ins for one username, within the window, that lock it for a while.
LOCKOUT_ATTEMPTS = env_int("BOUNCER_LOCKOUT_ATTEMPTS", 10, minimum=1)
LOCKOUT_SECONDS = env_int("BOUNCER_LOCKOUT_SECONDS", 15 * 60, minimum=1)

#: JWT signing: ES256 (default) or RS256 with a key ring; HS256 with a secret.
JWT_ALGORITHM = env_choice("BOUNCER_JWT_ALGORITHM", "es256", ("es256", "rs256", "hs256")).upper()
JWT_ACCESS_SECONDS = env_int("BOUNCER_JWT_ACCESS_SECONDS", 5 * 60, minimum=10)
JWT_REFRESH_SECONDS = env_int("BOUNCER_JWT_REFRESH_SECONDS", 14 * 24 * 3600, minimum=60)
#: The refresh token just rotated, replayed within this window (two tabs), gets the
#: very successor already issued back (an idempotent retry); any other replay is reuse.
JWT_REUSE_GRACE_SECONDS = env_int("BOUNCER_JWT_REUSE_GRACE_SECONDS", 10, minimum=0)
#: PostgreSQL: make each refresh rotation wait for its WAL flush (docs/jwt.md, "Durability").
JWT_REFRESH_DURABLE = env_bool("BOUNCER_JWT_REFRESH_DURABLE", False)
JWT_ISSUER = env_str("BOUNCER_JWT_ISSUER", "bouncer")
JWT_AUDIENCE = env_str("BOUNCER_JWT_AUDIENCE", "bouncer-api")
#: JSON key ring written by ``manage.py jwt_rotate_keys`` (dev default: var/).
JWT_KEYS_FILE = env_str("BOUNCER_JWT_KEYS_FILE", str(LOCAL_DIR / "jwt_keys.json"))
#: A single PEM private key instead of a key ring (no rotation).
JWT_PRIVATE_KEY = env_str("BOUNCER_JWT_PRIVATE_KEY")
#: Secret for HS256 only; defaults to SECRET_KEY.
JWT_HS_SECRET = env_str("BOUNCER_JWT_HS_SECRET")

#: OAuth2 / OpenID Connect provider (bouncer.oauth, django-oauth-toolkit at /o/).
OAUTH_ACCESS_SECONDS = env_int("BOUNCER_OAUTH_ACCESS_SECONDS", 3600, minimum=60)
OAUTH_REFRESH_SECONDS = env_int("BOUNCER_OAUTH_REFRESH_SECONDS", 14 * 24 * 3600, minimum=300)
#: The refresh token just rotated, replayed within this window, gets the very pair
#: already issued back instead of revoking the family (two tabs); 0 turns it off.
OAUTH_REFRESH_GRACE_SECONDS = env_int("BOUNCER_OAUTH_REFRESH_GRACE_SECONDS", 10, minimum=0)
#: Public issuer URL (``https://auth.example.com/o``); empty derives it from the request.
OIDC_ISSUER = env_str("BOUNCER_OIDC_ISSUER").rstrip("/")
#: JSON key ring written by ``manage.py oidc_rotate_keys`` (dev default: var/).
OIDC_KEYS_FILE = env_str("BOUNCER_OIDC_KEYS_FILE", str(LOCAL_DIR / "oidc_keys.json"))
#: One RSA PEM private key for id_tokens instead of a key ring (no rotation).
OIDC_PRIVATE_KEY = env_str("BOUNCER_OIDC_PRIVATE_KEY")

#: Outgoing mail (verification, password reset). Empty host: mail is written
#: to the console (the dev server's log) instead of being sent.
EMAIL_HOST = env_str("BOUNCER_EMAIL_HOST")
EMAIL_PORT = env_int("BOUNCER_EMAIL_PORT", 587, minimum=1)
#: ``starttls`` (default, port 587), ``ssl`` (implicit TLS, port 465) or ``none``.
EMAIL_SECURITY = env_choice("BOUNCER_EMAIL_SECURITY", "starttls", ("starttls", "ssl", "none"))
EMAIL_USER = env_str("BOUNCER_EMAIL_USER")
EMAIL_PASSWORD = env_str("BOUNCER_EMAIL_PASSWORD")
EMAIL_FROM = env_str("BOUNCER_EMAIL_FROM", "Bouncer <no-reply@localhost>")
EMAIL_TIMEOUT_SECONDS = env_int("BOUNCER_EMAIL_TIMEOUT_SECONDS", 10, minimum=1)
#: ``none``, ``optional`` (a mail is sent, nothing waits for it) or
#: ``mandatory`` (no credential of any kind before the address is verified).
EMAIL_VERIFICATION = env_choice("BOUNCER_EMAIL_VERIFICATION", "optional", ("none", "optional", "mandatory"))
#: Links in the mails, for an SPA that has its own pages: ``{uid}`` and
#: ``{token}`` (reset), ``{key}`` (verification) are filled in. Empty: Bouncer's pages.
FRONTEND_RESET_URL = env_str("BOUNCER_FRONTEND_RESET_URL")
FRONTEND_VERIFY_URL = env_str("BOUNCER_FRONTEND_VERIFY_URL")
#: Lifetime of a password-reset link and of an email-verification link.
PASSWORD_RESET_SECONDS = env_int("BOUNCER_PASSWORD_RESET_SECONDS", 3600, minimum=60)
EMAIL_VERIFY_SECONDS = env_int("BOUNCER_EMAIL_VERIFY_SECONDS", 3 * 24 * 3600, minimum=60)

#: Social sign-in providers (django-allauth). A provider is offered only when
#: its client id is set here or a Social application exists in the admin.
SOCIAL_GOOGLE_CLIENT_ID = env_str("BOUNCER_SOCIAL_GOOGLE_CLIENT_ID")
SOCIAL_GOOGLE_SECRET = env_str("BOUNCER_SOCIAL_GOOGLE_SECRET")
SOCIAL_GITHUB_CLIENT_ID = env_str("BOUNCER_SOCIAL_GITHUB_CLIENT_ID")
SOCIAL_GITHUB_SECRET = env_str("BOUNCER_SOCIAL_GITHUB_SECRET")
SOCIAL_FACEBOOK_CLIENT_ID = env_str("BOUNCER_SOCIAL_FACEBOOK_CLIENT_ID")
SOCIAL_FACEBOOK_SECRET = env_str("BOUNCER_SOCIAL_FACEBOOK_SECRET")
#: One generic OpenID Connect provider (any issuer with discovery); more in the admin.
SOCIAL_OIDC_ID = env_str("BOUNCER_SOCIAL_OIDC_ID", "oidc")
SOCIAL_OIDC_NAME = env_str("BOUNCER_SOCIAL_OIDC_NAME", "OpenID Connect")
SOCIAL_OIDC_URL = env_str("BOUNCER_SOCIAL_OIDC_URL").rstrip("/")
SOCIAL_OIDC_CLIENT_ID = env_str("BOUNCER_SOCIAL_OIDC_CLIENT_ID")
SOCIAL_OIDC_SECRET = env_str("BOUNCER_SOCIAL_OIDC_SECRET")

# Multi-factor sign-in (bouncer/multifactor/, docs/mfa.md).
#: Who must have a second factor: nobody, staff (and superusers), or everyone.
MFA_REQUIRED = env_choice("BOUNCER_MFA_REQUIRED", "none", ("none", "staff", "all"))
#: How long an ``mfa_token`` (a sign-in waiting for its second step) lives.
MFA_TOKEN_SECONDS = env_int("BOUNCER_MFA_TOKEN_SECONDS", 300, minimum=30)
#: Wrong codes one ``mfa_token`` takes before it is dead (the lockout counts them too).
MFA_TOKEN_ATTEMPTS = env_int("BOUNCER_MFA_TOKEN_ATTEMPTS", 5, minimum=1)
#: A step-up (re-verification) is good for this many seconds.
MFA_STEP_UP_SECONDS = env_int("BOUNCER_MFA_STEP_UP_SECONDS", 5 * 60, minimum=30)
#: Passkeys as the first and only factor (passwordless sign-in).
MFA_PASSKEY_LOGIN = env_bool("BOUNCER_MFA_PASSKEY_LOGIN", default=True)
#: WebAuthn relying party: its id (a domain, never an address) and the origins
#: browsers may sign for. Development accepts http://localhost on any port.
WEBAUTHN_RP_ID = env_str("BOUNCER_WEBAUTHN_RP_ID", "localhost")
WEBAUTHN_RP_NAME = env_str("BOUNCER_WEBAUTHN_RP_NAME", "Bouncer")
WEBAUTHN_ORIGINS = env_list("BOUNCER_WEBAUTHN_ORIGINS", [f"https://{WEBAUTHN_RP_ID}"])

PAGE_SIZE = env_int("BOUNCER_PAGE_SIZE", 20, minimum=1)
LOG_LEVEL = env_choice("BOUNCER_LOG_LEVEL", "info", ("debug", "info", "warning", "error"))

# Operations (issue 11; docs/operations.md).
#: Who may read /metrics: client addresses or networks (CIDR) ...
METRICS_ALLOW_IPS = env_list("BOUNCER_METRICS_ALLOW_IPS")
#: ... or a request with ``Authorization: Bearer <this>``. Both empty: /metrics answers 404 to everyone.
METRICS_TOKEN = env_str("BOUNCER_METRICS_TOKEN")
#: prometheus_client's multiprocess directory (it reads the variable itself, at import);
#: gunicorn.conf.py sets a fresh one per start. Empty: this process's own numbers are served.
METRICS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR")
#: SPA origins allowed to call the API with credentials (CORS); empty: no cross-origin access.
CORS_ALLOWED_ORIGINS = env_list("BOUNCER_CORS_ALLOWED_ORIGINS")
#: Audit rows older than this many days are pruned as Bouncer runs; 0 keeps every row.
AUDIT_RETENTION_DAYS = env_int("BOUNCER_AUDIT_RETENTION_DAYS", 365, minimum=0)
