"""Benchmark-only settings: a stock DRF setup, as the tutorials build it.

Sessions in the database (``django.contrib.sessions.backends.db``: one query
per request for the session, one for the user, no cache) and DRF's own
``rest_framework.authtoken`` TokenAuthentication (plaintext key as primary
key, one query joined with the user). Everything else is Bouncer's, so the
profile view, middleware and serializer are the same code as in the main
server. ``benchmarks/run.py`` compares it with Bouncer's authentication in
the same run. Never use this module to serve real users.
"""

from config.settings.base import *  # noqa: F401,F403
from config.settings.base import INSTALLED_APPS, REST_FRAMEWORK

INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework.authtoken"]
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# No cached user or token rows: every request reads the user from the database,
# as Django's ModelBackend does.
BOUNCER_AUTH_CACHE_SECONDS = 0
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
}
