"""Log lines: each record once, as JSON, with method and path but no query string (hole 4.11)."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from contextlib import contextmanager

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db

SECRET = "canary-access-token-4711"


def handlers_reached(name: str) -> list[logging.Handler]:
    """Every configured handler a record of ``name`` reaches (its own, then up while it propagates).

    pytest's own capture handlers on the root logger are not Bouncer's configuration.
    """
    logger, found = logging.getLogger(name), []
    while logger:
        found.extend(h for h in logger.handlers if not type(h).__module__.startswith("_pytest"))
        logger = logger.parent if logger.propagate else None
    return found


@contextmanager
def captured_lines(name: str):
    """What every handler that ``name``'s records reach actually writes."""
    lines: list[str] = []
    originals = []
    for handler in handlers_reached(name):
        if isinstance(handler, logging.StreamHandler):
            buffer = io.StringIO()
            originals.append((handler, handler.setStream(buffer), buffer))
        else:  # e.g. mail: count what it would send
            originals.append((handler, None, None))
            handler.emit = lambda record, _h=handler: lines.append(f"<{type(_h).__name__}>")  # noqa: B023
    try:
        yield lines
    finally:
        for handler, stream, buffer in originals:
            if buffer is not None:
                handler.setStream(stream)
                lines.extend(line for line in buffer.getvalue().splitlines() if line)
            else:
                del handler.emit


@pytest.mark.parametrize("debug", [True, False])
def test_django_request_record_appears_once_as_json_without_query_string(api, debug):
    with override_settings(DEBUG=debug), captured_lines("django.request") as lines:
        response = api.get(f"/api/accounts/profile/?access_token={SECRET}")
    assert response.status_code == 401
    assert len(lines) == 1, lines
    record = json.loads(lines[0])
    assert record["logger"] == "django.request"
    assert record["status_code"] == 401
    assert record["request"] == "GET /api/accounts/profile/"
    assert SECRET not in lines[0]


def test_runserver_request_line_appears_once_as_json_without_query_string():
    with captured_lines("django.server") as lines:
        logging.getLogger("django.server").warning(
            '"%s" %s %s', f"GET /api/accounts/profile/?access_token={SECRET} HTTP/1.1", "401", "58",
            extra={"request": object(), "server_time": "01/Dec/2026 10:00:00", "status_code": 401},
        )
    assert len(lines) == 1, lines
    record = json.loads(lines[0])
    assert record["status_code"] == 401
    assert SECRET not in lines[0]
    assert "GET /api/accounts/profile/ HTTP/1.1" in record["message"]


def test_status_code_is_kept_and_secret_fields_are_still_redacted():
    with captured_lines("bouncer.test") as lines:
        logging.getLogger("bouncer.test").warning(
            "x", extra={"status_code": 403, "device_code": "dc-secret", "data": {"code": "auth-code-secret", "status_code": 400}}
        )
    record = json.loads(lines[0])
    assert record["status_code"] == 403 and record["data"]["status_code"] == 400
    assert "dc-secret" not in lines[0] and "auth-code-secret" not in lines[0]


@contextmanager
def root_level(level: int):
    """The root logger at ``level``, as ``BOUNCER_LOG_LEVEL`` sets it (config/settings/logging.py)."""
    from django.conf import settings

    root = logging.getLogger()
    before = root.level
    logging.config.dictConfig({**settings.LOGGING, "root": {**settings.LOGGING["root"], "level": logging.getLevelName(level)}})
    try:
        yield
    finally:
        logging.config.dictConfig(settings.LOGGING)
        root.setLevel(before)


def test_debug_log_level_never_writes_tokens_codes_secrets_or_session_keys(user):
    """An operator who sets BOUNCER_LOG_LEVEL=debug (with DEBUG on, in development) gets
    more lines, never a credential: oauthlib logs every issued token and code at DEBUG,
    the toolkit the redirect with the code, Django's SQL log every session key."""
    import logging.config  # noqa: F401 - dictConfig

    from tests.conftest import PASSWORD
    from tests.oauth.conftest import authorize, code_from, exchange, make_app, password_grant, pkce_pair, post_form

    secrets_seen: list[str] = [PASSWORD]
    with override_settings(DEBUG=True), root_level(logging.DEBUG), captured_lines("oauthlib") as lines:
        password_app = make_app("password")
        secrets_seen.append(password_app.secret)
        tokens = password_grant(password_app, user).json()
        secrets_seen += [tokens["access_token"], tokens["refresh_token"]]
        refreshed = post_form(
            "/o/token/", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            HTTP_AUTHORIZATION=password_app.basic(),
        ).json()
        secrets_seen += [refreshed["access_token"], refreshed["refresh_token"]]
        code_app = make_app("authorization-code")
        verifier, challenge = pkce_pair()
        code = code_from(authorize(user, code_app, challenge=challenge))
        issued = exchange(code_app, code, verifier).json()
        secrets_seen += [code, verifier, code_app.secret, issued["access_token"], issued["refresh_token"]]
        from django.test import Client

        login = Client().post("/api/accounts/login/", {"username": user.username, "password": PASSWORD}, content_type="application/json")
        from django.conf import settings

        secrets_seen.append(login.cookies[settings.SESSION_COOKIE_NAME].value)
    assert len(lines) > 0  # the debug lines were written, and captured
    text = "\n".join(lines)
    leaked = [secret for secret in secrets_seen if secret in text]
    assert leaked == [], [line for line in lines if any(secret in line for secret in leaked)][:3]
