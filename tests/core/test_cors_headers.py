"""CORS (closed by default, opened per origin for /api/ and /o/) and the security headers, in-process.

The browser's side of it runs in tests/e2e/test_cors_browser.py and tests/e2e/test_headers_browser.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from config.settings.security import _cors_origin
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
SPA = "https://app.example.com"
LISTED = override_settings(CORS_ALLOWED_ORIGINS=[SPA], CSRF_TRUSTED_ORIGINS=[SPA])
ACAO = "Access-Control-Allow-Origin"


def preflight(client, path: str, origin: str, method: str = "POST", headers: str = "content-type"):
    return client.options(path, HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
                          HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers)


def test_closed_by_default(client, user):
    assert settings.CORS_ALLOWED_ORIGINS == []
    for path in ("/api/accounts/csrf/", "/api/accounts/profile/", "/o/userinfo/", "/api/accounts/events/"):
        assert ACAO not in client.get(path, HTTP_ORIGIN=SPA), path
    for path in ("/api/token/", "/api/accounts/login/", "/o/token/", "/o/revoke_token/"):
        assert ACAO not in preflight(client, path, SPA), path
    response = client.post("/api/accounts/login/", {"username": "alice", "password": PASSWORD},
                           content_type="application/json", HTTP_ORIGIN=SPA)
    assert response.status_code == 403 and ACAO not in response


def test_public_oidc_documents_are_readable_by_any_origin_without_credentials(client):
    """django-oauth-toolkit's own `*` on the discovery document (an SPA's OIDC library
    reads it before anything else): public, the same for everyone, never with credentials."""
    response = client.get("/o/.well-known/openid-configuration", HTTP_ORIGIN="https://anyone.example")
    assert response[ACAO] == "*"
    assert "Access-Control-Allow-Credentials" not in response


@LISTED
def test_the_listed_origin_gets_credentials_and_a_preflight(client):
    response = client.get("/api/accounts/csrf/", HTTP_ORIGIN=SPA)
    assert response[ACAO] == SPA  # that origin, never *
    assert response["Access-Control-Allow-Credentials"] == "true"
    answer = preflight(client, "/api/accounts/profile/", SPA, method="PATCH", headers="authorization, content-type, x-csrftoken")
    assert answer.status_code == 200
    assert answer[ACAO] == SPA and answer["Access-Control-Allow-Credentials"] == "true"
    assert {"authorization", "content-type", "x-csrftoken"} <= {h.strip() for h in answer["Access-Control-Allow-Headers"].split(",")}
    assert "PATCH" in answer["Access-Control-Allow-Methods"]


@LISTED
@pytest.mark.parametrize("origin", [
    "null",  # sandboxed frames, file: pages: anyone can send it
    "https://app.example.com.evil.example",  # the listed origin as a prefix
    "https://evilapp.example.com",  # as a suffix
    "https://evil-app.example.com",
    "http://app.example.com",  # another scheme
    "https://app.example.com:8443",  # another port
    "https://APP.example.com.",
    "https://app.example.co",
    "*",
    "",
])
def test_look_alike_and_null_origins_are_refused(client, user, origin):
    assert ACAO not in client.get("/api/accounts/csrf/", HTTP_ORIGIN=origin)
    assert ACAO not in preflight(client, "/api/token/", origin)
    # The sign-in endpoints refuse the cross-site browser call itself (not only its answer).
    if origin:
        response = client.post("/api/token/", {"username": "alice", "password": PASSWORD, "cookie": True},
                               content_type="application/json", HTTP_ORIGIN=origin)
        assert response.status_code == 403, origin
        assert "Set-Cookie" not in response or "bouncer_access" not in str(response.cookies)


@LISTED
def test_the_listed_origin_may_sign_in_in_cookie_mode(client, user):
    response = client.post("/api/token/", {"username": "alice", "password": PASSWORD, "cookie": True},
                           content_type="application/json", HTTP_ORIGIN=SPA)
    assert response.status_code == 200 and response[ACAO] == SPA
    assert settings.BOUNCER_JWT["ACCESS_COOKIE"] in response.cookies


@LISTED
def test_html_pages_never_answer_cors(client):
    for path in ("/", "/accounts/login/", "/api/docs/", "/admin/login/"):
        response = client.get(path, HTTP_ORIGIN=SPA)
        assert ACAO not in response, path
    assert ACAO not in preflight(client, "/accounts/login/", SPA)


@pytest.mark.parametrize("bad", ["null", "*", "https://app.example.com/", "https://app.example.com/path", "app.example.com",
                                 "ftp://app.example.com", "https://", "https://app.example.com?x=1"])
def test_a_value_that_is_not_an_origin_fails_start_up(bad):
    with pytest.raises(Exception, match="BOUNCER_CORS_ALLOWED_ORIGINS"):
        _cors_origin(bad)


def test_the_cors_origins_are_csrf_trusted_too(tmp_path):
    """One variable configures an SPA: its origin is CORS-allowed and CSRF-trusted (config/settings/security.py)."""
    code = ("from django.conf import settings; print(settings.CORS_ALLOWED_ORIGINS); print(settings.CSRF_TRUSTED_ORIGINS)")
    env = {"PATH": "/usr/bin:/bin", "BOUNCER_LOCAL_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings.base",
           "BOUNCER_CORS_ALLOWED_ORIGINS": "https://App.example.com, http://localhost:3000",
           "CSRF_TRUSTED_ORIGINS": "https://admin.example.com"}
    out = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60, check=True).stdout.splitlines()
    assert out == ["['https://app.example.com', 'http://localhost:3000']",
                   "['https://admin.example.com', 'https://app.example.com', 'http://localhost:3000']"]
    refused = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                             env={**env, "BOUNCER_CORS_ALLOWED_ORIGINS": "null"})
    assert refused.returncode != 0 and "BOUNCER_CORS_ALLOWED_ORIGINS: 'null' is not an origin" in refused.stderr


@pytest.mark.parametrize("debug", [False, True], ids=["production-like", "development"])
@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/api/accounts/profile/", "/api/schema/", "/api/nope/",
                                  "/o/.well-known/openid-configuration", "/healthz", "/api/docs/", "/api/docs/?script="])
def test_every_answer_carries_the_security_headers(client, path, debug, settings):
    settings.DEBUG = debug
    response = client.get(path)
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    if debug and response.status_code == 404:
        # django-csp leaves DEBUG's 404 and 500 pages alone (Django's technical pages are inline CSS and script).
        assert "Content-Security-Policy" not in response
        return
    policy = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
