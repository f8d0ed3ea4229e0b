"""Benchmark-only settings: django-oauth-toolkit as its documentation sets it up.

The toolkit's own ``OAuth2Validator`` (client secrets checked with Django's
``check_password`` on every request, nothing remembered), its own DRF
``OAuth2Authentication`` (the access token and its user read from the
database on every request), and Django's default PBKDF2 first in
``PASSWORD_HASHERS``, so both the client secret and the user's password are
PBKDF2 hashes at Django's default iterations. ``benchmarks/run.py`` compares
Bouncer's password grant with this one in the same run. Never use this module
to serve real users.
"""

from config.settings.base import *  # noqa: F401,F403
from config.settings.base import OAUTH2_PROVIDER, PASSWORD_HASHERS, REST_FRAMEWORK

_STOCK = "django.contrib.auth.hashers.PBKDF2PasswordHasher"
PASSWORD_HASHERS = [_STOCK, *(name for name in PASSWORD_HASHERS if name != _STOCK)]
OAUTH2_PROVIDER = {**OAUTH2_PROVIDER, "OAUTH2_VALIDATOR_CLASS": "oauth2_provider.oauth2_validators.OAuth2Validator"}
BOUNCER_AUTH_CACHE_SECONDS = 0
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": ["oauth2_provider.contrib.rest_framework.OAuth2Authentication"],
}
