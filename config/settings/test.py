"""Test profile: base settings plus a fast hasher, Basic on, locmem email.

DATABASE_URL and REDIS_URL still apply, so the same suite runs on SQLite and
in-process cache by default and on PostgreSQL and Redis in CI.
"""

from config.settings.base import *  # noqa: F401,F403
from config.settings.base import PASSWORD_HASHERS

# MD5 only makes fixtures fast; the Argon2id hasher stays in the list and has
# its own tests that select it explicitly.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Mail is sent in the request, so a test sees it in mail.outbox when the answer arrives.
BOUNCER_EMAIL = {**BOUNCER_EMAIL, "SEND_IN_BACKGROUND": False}  # noqa: F405
BOUNCER_BASIC_AUTH_ENABLED = True
# The suite runs in one process, so the auth cache is safe even on the
# in-process cache: every revocation test then also proves the invalidation.
# tests/security/test_query_budget.py covers both settings.
BOUNCER_AUTH_CACHE_SECONDS = 300
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {
    **LOGGING,  # noqa: F405
    "root": {"handlers": ["console"], "level": "WARNING"},
}

# A file, not SQLite's default in-memory test database, so threads in the
# concurrency tests get real connections of their own (WAL, IMMEDIATE).
from config.settings.base import DATABASES, env  # noqa: E402

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(env.LOCAL_DIR / "test.sqlite3")}
