"""What a process must have before it serves requests.

The settings load without signing keys in production, so the commands that
create them (``jwt_rotate_keys``, ``oidc_rotate_keys``) and ``migrate`` can run
on a fresh install. Serving without them is refused: config/wsgi.py calls
``serving_keys_require`` (gunicorn fails to boot with the reason), and the
same test is a deploy check (``manage.py check --deploy``). Keys are never
invented in production: each node would sign with its own.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from bouncer.oauth.keys import oidc_keys_require
from bouncer.tokens.jwt.keys import key_ring


def serving_keys_require() -> None:
    """Raise ImproperlyConfigured unless the JWT and OIDC signing keys load."""
    if settings.BOUNCER_JWT["ALGORITHM"] != "HS256":
        key_ring()  # in production: refuses a missing ring, never creates one
    oidc_keys_require(settings.OAUTH2_PROVIDER)


@checks.register(checks.Tags.security, deploy=True)
def serving_keys_check(app_configs, **kwargs):
    try:
        serving_keys_require()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="bouncer.E020")]
    return []
