"""Log lines: each record once, as JSON, with method and path but no query string (hole 4.11)."""

from __future__ import annotations

import io
import json
import logging
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
