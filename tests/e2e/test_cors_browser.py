"""CORS in a real Chromium: an SPA on another origin calls Bouncer under gunicorn with fetch(credentials: "include").

The SPA is a page served by a tiny ``http.server`` on another 127.0.0.1 port
(another origin, the same site, as app.example.com is to auth.example.com).
Against the shared server (no BOUNCER_CORS_ALLOWED_ORIGINS) every call is
refused by the browser. Against a second node of the same database started
with the SPA's origin listed, the SPA signs in in JWT cookie mode and with a
session, reads and writes with the CSRF header, and an unsafe call without it
is refused; a page from an origin not on the list is still refused.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.e2e.chromium import chromium_driver, require_chromium
from tests.e2e.conftest import bouncer_server
from tests.e2e.oauth_support import manage

pytestmark = pytest.mark.e2e

require_chromium()

PASSWORD = "cors-browser-pass-29"

_PAGE = b"<!doctype html><html><head><meta charset=utf-8><title>SPA</title></head><body><main>SPA</main></body></html>"

# One request from the page: {status, body} or {error} when the browser refused it (CORS).
_FETCH = """
const [url, init, done] = arguments;
fetch(url, Object.assign({credentials: "include"}, init))
  .then(async (r) => done({status: r.status, body: await r.text()}))
  .catch((e) => done({error: String(e)}));
"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(_PAGE)))
        self.end_headers()
        self.wfile.write(_PAGE)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def spa_servers():
    """Two page servers: the SPA's origin (listed) and another one (never listed)."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Page) for _ in range(2)]
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    yield [f"http://127.0.0.1:{server.server_address[1]}" for server in servers]
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def spa(spa_servers):
    return spa_servers[0]


@pytest.fixture(scope="module")
def other_origin(spa_servers):
    return spa_servers[1]


@pytest.fixture(scope="module")
def cors_server(live_server_url, live_server_env, spa):
    """A second node on the shared server's database, with the SPA's origin listed."""
    with bouncer_server({**live_server_env, "BOUNCER_CORS_ALLOWED_ORIGINS": spa}, log_name="cors-server.log") as url:
        yield url


@pytest.fixture(scope="module")
def username(live_server_env) -> str:
    name = f"cors-{secrets.token_hex(3)}"
    manage(live_server_env, "shell", "-v", "0", "-c",
           f"from bouncer.users.models import User; User.objects.create_user('{name}', '{name}@example.com', '{PASSWORD}')")
    return name


@pytest.fixture
def browser(tmp_path):
    driver = chromium_driver(tmp_path / "chromium")
    driver.set_script_timeout(20)
    yield driver
    driver.quit()


def call(browser, url: str, *, method: str = "GET", body: dict | None = None, csrf: str = "") -> dict:
    headers = {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if csrf:
        headers["X-CSRFToken"] = csrf
    init = {"method": method, "headers": headers}
    if body is not None:
        init["body"] = json.dumps(body)
    result = browser.execute_async_script(_FETCH, url, init)
    if "body" in result and result["body"].startswith("{"):
        result["json"] = json.loads(result["body"])
    return result


def refused(result: dict) -> bool:
    """The browser refused the call (no CORS permission): fetch rejects, the page sees no status."""
    return "error" in result and "status" not in result


def test_closed_by_default_every_call_from_another_origin_is_refused(browser, live_server_url, spa, username):
    browser.get(f"{spa}/")
    assert refused(call(browser, f"{live_server_url}/api/accounts/csrf/"))
    assert refused(call(browser, f"{live_server_url}/api/token/", method="POST",
                        body={"username": username, "password": PASSWORD, "cookie": True}))
    assert refused(call(browser, f"{live_server_url}/api/accounts/login/", method="POST",
                        body={"username": username, "password": PASSWORD}))


def test_jwt_cookie_mode_from_the_listed_origin(browser, cors_server, spa, username):
    browser.get(f"{spa}/")
    signed_in = call(browser, f"{cors_server}/api/token/", method="POST",
                     body={"username": username, "password": PASSWORD, "cookie": True})
    assert signed_in["status"] == 200, signed_in
    assert "access" not in signed_in["json"]  # the tokens are in HttpOnly cookies, not readable by the page
    profile = call(browser, f"{cors_server}/api/accounts/profile/")
    assert profile["status"] == 200 and profile["json"]["username"] == username
    # An unsafe request authenticated by the access cookie needs the CSRF header.
    no_csrf = call(browser, f"{cors_server}/api/accounts/profile/", method="PATCH", body={"first_name": "Mallory"})
    assert no_csrf["status"] == 403, no_csrf
    token = call(browser, f"{cors_server}/api/accounts/csrf/")["json"]["csrfToken"]
    patched = call(browser, f"{cors_server}/api/accounts/profile/", method="PATCH", body={"first_name": "Spa"}, csrf=token)
    assert patched["status"] == 200 and patched["json"]["first_name"] == "Spa", patched
    refreshed = call(browser, f"{cors_server}/api/token/refresh/", method="POST", body={})
    assert refreshed["status"] == 200, refreshed
    out = call(browser, f"{cors_server}/api/token/blacklist/", method="POST", body={}, csrf=token)
    assert out["status"] in (200, 204), out
    assert call(browser, f"{cors_server}/api/accounts/profile/")["status"] == 401


def test_session_and_csrf_header_from_the_listed_origin(browser, cors_server, spa, username):
    browser.get(f"{spa}/")
    login = call(browser, f"{cors_server}/api/accounts/login/", method="POST", body={"username": username, "password": PASSWORD})
    assert login["status"] == 200, login
    events = call(browser, f"{cors_server}/api/accounts/events/")
    assert events["status"] == 200 and events["json"]["results"][0]["action"] == "login_succeeded", events
    assert call(browser, f"{cors_server}/api/accounts/logout/", method="POST")["status"] == 403  # no CSRF header
    token = call(browser, f"{cors_server}/api/accounts/csrf/")["json"]["csrfToken"]
    assert call(browser, f"{cors_server}/api/accounts/logout/", method="POST", csrf=token)["status"] == 200
    assert call(browser, f"{cors_server}/api/accounts/events/")["status"] in (401, 403)


def test_an_origin_not_on_the_list_is_still_refused(browser, cors_server, other_origin, username):
    for page in (other_origin, other_origin.replace("127.0.0.1", "localhost")):
        browser.get(f"{page}/")
        assert refused(call(browser, f"{cors_server}/api/accounts/csrf/"))
        assert refused(call(browser, f"{cors_server}/api/token/", method="POST",
                            body={"username": username, "password": PASSWORD, "cookie": True}))
