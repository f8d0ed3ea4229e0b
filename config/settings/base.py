"""Django core settings. Topic settings live in the sibling modules imported at the end.

Every value that can change between deployments comes from ``env.py``.
"""

from __future__ import annotations

import dj_database_url

from config.settings import env

BASE_DIR = env.BASE_DIR
SECRET_KEY = env.SECRET_KEY
DEBUG = env.DEBUG
ALLOWED_HOSTS = env.ALLOWED_HOSTS
# CSRF_TRUSTED_ORIGINS: config/settings/security.py (it adds the CORS origins).

INSTALLED_APPS = [
    # Django's admin with a site that asks for the second factor (bouncer/users/adminsite.py).
    "bouncer.users.adminsite.BouncerAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # third party
    "corsheaders",
    "csp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Bouncer
    "bouncer.core",
    "bouncer.users",
    "bouncer.tokens",
    "bouncer.audit",
    "bouncer.articles",
    # Before the toolkit: templates are looked up in app order, so
    # bouncer/oauth/templates/oauth2_provider/ replaces the toolkit's pages.
    "bouncer.oauth",
    "oauth2_provider",
    # Before allauth, for the same reason: bouncer/social/templates/ replaces
    # allauth's pages with Bouncer's layout.
    "bouncer.social",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.facebook",
    "allauth.socialaccount.providers.openid_connect",
    # Labelled "multifactor": allauth's app below is "mfa".
    "bouncer.multifactor",
    "allauth.mfa",
]

MIDDLEWARE = [
    # Outermost: request latency per route, every answer counted (core/metrics.py).
    "bouncer.core.metrics.MetricsMiddleware",
    # CORS before anything that can answer (a preflight gets its headers even
    # when a later middleware refuses it); only /api/ and /o/ (security.py).
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Frame denial and the CSP before WhiteNoise, which answers static files
    # itself: every answer, static ones included, carries the headers.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # allauth's per-request state (its provider redirects need it).
    "allauth.account.middleware.AccountMiddleware",
    "bouncer.core.middleware.ApiErrorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if env.DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            env.DATABASE_URL,
            conn_max_age=env.DATABASE_CONN_MAX_AGE,
            conn_health_checks=True,
        )
    }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend with a health check that needs no round trip
        # (bouncer/core/postgresql/base.py says why and how).
        DATABASES["default"]["ENGINE"] = "bouncer.core.postgresql"
        # A database that does not answer fails the request within this bound (503),
        # not after gunicorn's worker timeout (docs/operations.md).
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env.DATABASE_CONNECT_TIMEOUT)
else:
    env.LOCAL_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.LOCAL_DIR / "bouncer.sqlite3",
            "CONN_MAX_AGE": env.DATABASE_CONN_MAX_AGE,
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default's file, or DATABASE_URL=sqlite:///...: both get these
    # (without them, concurrent writes from two workers failed at once with
    # "database is locked", a 500). WAL lets readers and the single writer work
    # side by side; IMMEDIATE takes the write lock when a transaction starts, so
    # the busy timeout waits on it instead of failing a read-then-write at once.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        **DATABASES["default"].get("OPTIONS", {}),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if env.REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": env.REDIS_URL,
            "KEY_PREFIX": "bouncer",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # Redis stopped or cut off: every call fails within these bounds
                # (503 or a database read, docs/operations.md), never hangs a worker.
                "SOCKET_CONNECT_TIMEOUT": env.REDIS_TIMEOUT,
                "SOCKET_TIMEOUT": env.REDIS_TIMEOUT,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "bouncer"}}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.LOCAL_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on a missing root
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# Request bodies above this answer 413/400 before any view parses them.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200

from config.settings.allauth import *  # noqa: E402,F401,F403
from config.settings.auth import *  # noqa: E402,F401,F403
from config.settings.drf import *  # noqa: E402,F401,F403
from config.settings.jwt import *  # noqa: E402,F401,F403
from config.settings.logging import *  # noqa: E402,F401,F403
from config.settings.metrics import *  # noqa: E402,F401,F403
from config.settings.mfa import *  # noqa: E402,F401,F403
from config.settings.oauth import *  # noqa: E402,F401,F403
from config.settings.security import *  # noqa: E402,F401,F403

BOUNCER_PRODUCTION = env.PRODUCTION
BOUNCER_LOCAL_DIR = env.LOCAL_DIR
