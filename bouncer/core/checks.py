"""Posture check: Django system checks that refuse weak settings in production.

Registered in ``CoreConfig.ready`` without ``deploy=True``, so they run with
every management command that runs checks (``check``, ``migrate``,
``runserver``, ...) and from ``config/wsgi.py`` when a production worker
starts. In production each finding is an ``Error`` (start-up fails); in
development they report nothing, so a developer's ``manage.py check`` stays
clean. Ids, meanings and fixes: docs/security.md, "Posture check".

The one check that reads the database (a public client with the password
grant) queries it only in production and is skipped when the table is not
there yet or the database cannot be reached: a first ``migrate`` must be able
to run, and ``/readyz`` is what reports a database that is down.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.db import DatabaseError

from bouncer.core.throttling import parse_rate

TAG = "bouncer_posture"
#: Shortest HS256 secret accepted (RFC 7518 3.2: at least the hash's 256 bits).
HS_SECRET_MIN_BYTES = 32
#: Longest access-token lifetime accepted, in seconds.
ACCESS_MAX_SECONDS = 3600


def _error(msg: str, hint: str, id: str) -> checks.Error:
    return checks.Error(msg, hint=hint, id=id)


def posture_jwt(conf: dict) -> list[checks.Error]:
    found = []
    if conf["ALGORITHM"] == "HS256":
        secret = conf.get("HS_SECRET") or ""
        if not secret or secret == settings.SECRET_KEY:
            found.append(_error(
                "HS256 JWTs are signed with SECRET_KEY (no separate secret).",
                "Set BOUNCER_JWT_HS_SECRET (or _FILE) to its own random secret of at least 32 bytes, "
                "or use BOUNCER_JWT_ALGORITHM=es256.",
                "bouncer.E001",
            ))
        elif len(secret.encode()) < HS_SECRET_MIN_BYTES:
            found.append(_error(
                f"The HS256 JWT secret is {len(secret.encode())} bytes; at least {HS_SECRET_MIN_BYTES} are needed.",
                "Set BOUNCER_JWT_HS_SECRET to a longer random secret (python -c 'import secrets; print(secrets.token_urlsafe(48))').",
                "bouncer.E002",
            ))
    if conf["ACCESS_LIFETIME_SECONDS"] > ACCESS_MAX_SECONDS:
        found.append(_error(
            f"JWT access tokens live {conf['ACCESS_LIFETIME_SECONDS']} s, more than {ACCESS_MAX_SECONDS} s.",
            "Lower BOUNCER_JWT_ACCESS_SECONDS (default 300); clients refresh instead.",
            "bouncer.E003",
        ))
    return found


def posture_oauth() -> list[checks.Error]:
    seconds = settings.OAUTH2_PROVIDER.get("ACCESS_TOKEN_EXPIRE_SECONDS", 0)
    if seconds > ACCESS_MAX_SECONDS:
        return [_error(
            f"OAuth2 access tokens live {seconds} s, more than {ACCESS_MAX_SECONDS} s.",
            "Lower BOUNCER_OAUTH_ACCESS_SECONDS (default 3600); clients refresh instead.",
            "bouncer.E004",
        )]
    return []


_SET_BY_PRODUCTION = "It is set by BOUNCER_ENV=production (config/settings/security.py): remove the override that changes it."


def posture_cookies() -> list[checks.Error]:
    found = []
    if not settings.SESSION_COOKIE_SECURE:
        found.append(_error("SESSION_COOKIE_SECURE is off: the session cookie would be sent over plain HTTP.",
                            _SET_BY_PRODUCTION, "bouncer.E005"))
    if not settings.CSRF_COOKIE_SECURE:
        found.append(_error("CSRF_COOKIE_SECURE is off: the CSRF cookie would be sent over plain HTTP.",
                            _SET_BY_PRODUCTION, "bouncer.E006"))
    if not settings.SESSION_COOKIE_HTTPONLY:
        found.append(_error("SESSION_COOKIE_HTTPONLY is off: page scripts could read the session cookie.",
                            "Remove the override of SESSION_COOKIE_HTTPONLY (config/settings/auth.py sets it).", "bouncer.E007"))
    conf = settings.BOUNCER_JWT
    # A browser keeps a __Host-/__Secure- cookie only if it is Secure (and sent
    # over HTTPS): the prefix is what makes the Secure flag hold.
    if not conf["ACCESS_COOKIE"].startswith("__Host-") or not conf["REFRESH_COOKIE"].startswith(("__Host-", "__Secure-")):
        found.append(_error(
            f"The JWT cookies ({conf['ACCESS_COOKIE']}, {conf['REFRESH_COOKIE']}) lost their __Host-/__Secure- prefix, "
            "so a browser would take them without the Secure flag or planted by a plain-http page.",
            _SET_BY_PRODUCTION, "bouncer.E008",
        ))
    return found


def posture_basic_and_debug() -> list[checks.Error]:
    found = []
    if getattr(settings, "BOUNCER_BASIC_AUTH_ENABLED", False):
        found.append(_error(
            "Basic authentication is on: every API request would carry the password.",
            "Unset BOUNCER_BASIC_AUTH (it is for tests and scripts only).", "bouncer.E009",
        ))
    if settings.DEBUG:
        found.append(_error(
            "DEBUG is on: error pages would show settings, code and request data.",
            "Unset DJANGO_DEBUG and remove any other override of DEBUG.", "bouncer.E010",
        ))
    return found


def posture_throttle_rates() -> list[checks.Error]:
    found = []
    for scope, rate in settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}).items():
        if rate is None:
            continue  # DRF's own meaning: this scope is not throttled
        try:
            count, _ = parse_rate(rate)
            if count < 1:
                raise ValueError
        except (ValueError, KeyError, IndexError, AttributeError, TypeError):
            found.append(_error(
                f"The throttle rate {rate!r} of scope {scope!r} does not parse.",
                f"Set BOUNCER_THROTTLE_{scope.upper()} to '<count>/<second|minute|hour|day>', e.g. '10/min'.",
                "bouncer.E012",
            ))
    return found


def posture_public_password_clients() -> list[checks.Error]:
    """Applications made in the admin (oauth_create_client already refuses this pair)."""
    from oauth2_provider.models import AbstractApplication, get_application_model

    try:
        names = list(
            get_application_model().objects.filter(
                authorization_grant_type=AbstractApplication.GRANT_PASSWORD,
                client_type=AbstractApplication.CLIENT_PUBLIC,
            ).values_list("client_id", flat=True)[:20]
        )
    except DatabaseError:
        return []  # not migrated yet, or the database is down: nothing to judge
    if not names:
        return []
    return [_error(
        f"Public OAuth2 clients offer the password grant: {', '.join(names)}.",
        "A public client cannot keep a secret: make it confidential or give it the authorization-code grant "
        "(admin, OAuth2 applications), or delete it.",
        "bouncer.E011",
    )]


@checks.register(TAG)
def posture_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if not getattr(settings, "BOUNCER_PRODUCTION", False):
        return []
    return [
        *posture_jwt(settings.BOUNCER_JWT),
        *posture_oauth(),
        *posture_cookies(),
        *posture_basic_and_debug(),
        *posture_throttle_rates(),
        *posture_public_password_clients(),
    ]
