"""Every page under the Content-Security-Policy in a real Chromium, against Bouncer under gunicorn.

Each page is opened in headless Chromium and every CSP violation it causes is
collected two ways: a ``securitypolicyviolation`` listener installed through
the DevTools protocol before any of the page's own code runs (the policy does
not apply to it), and the browser's console log (where Chromium reports each
refused script, style or frame). Any violation fails the test, and each page
must still do its job under the policy: Swagger UI lists the operations, the
admin's change list works, the consent page shows its form. A first test
proves the collector sees a violation when one happens.

The headers on every kind of answer (a page, JSON, a static file, an error)
are checked over plain HTTP too.
"""

from __future__ import annotations

import secrets

import pyotp
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from tests.e2e.chromium import chromium_driver, require_chromium
from tests.e2e.oauth_support import authlib_over_http, create_client, manage  # noqa: F401

pytestmark = pytest.mark.e2e

require_chromium()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

PASSWORD = "csp-browser-pass-71"
TOTP_SECRET = pyotp.random_base32()

# Runs in every document before its own scripts (Page.addScriptToEvaluateOnNewDocument).
_COLLECTOR = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push({directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample, source: e.sourceFile, line: e.lineNumber});
});
"""

_USERS = """
from bouncer.multifactor.totp import totp_activate
from bouncer.users.models import User
User.objects.create_user("{plain}", "{plain}@example.com", "{password}")
totp_activate(user=User.objects.create_user("{mfa}", "{mfa}@example.com", "{password}"), secret="{secret}", step=0)
User.objects.create_superuser("{admin}", "{admin}@example.com", "{password}")
"""


@pytest.fixture(scope="module")
def accounts(live_server_env) -> dict:
    suffix = secrets.token_hex(3)
    names = {"plain": f"csp-plain-{suffix}", "mfa": f"csp-mfa-{suffix}", "admin": f"csp-admin-{suffix}"}
    manage(live_server_env, "shell", "-v", "0", "-c", _USERS.format(**names, password=PASSWORD, secret=TOTP_SECRET))
    return names


@pytest.fixture(scope="module")
def oauth_app(live_server_url, live_server_env) -> dict:
    redirect_uri = f"{live_server_url}/healthz"
    client_id, _ = create_client(live_server_env, "CSP Browser App", "--type", "public", "--grant", "authorization-code",
                                 "--redirect-uri", redirect_uri)
    return {"client_id": client_id, "redirect_uri": redirect_uri}


@pytest.fixture
def browser(tmp_path):
    driver = chromium_driver(tmp_path / "chromium", console_log=True)
    driver.set_window_size(1200, 900)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _COLLECTOR})
    yield driver
    driver.quit()


def wait(browser, condition, seconds: int = 30):
    return WebDriverWait(browser, seconds).until(condition)


def violations(browser) -> list:
    """Every CSP violation since the last call: the page's events and the console's reports."""
    events = browser.execute_script("return window.__cspViolations || []")
    browser.execute_script("window.__cspViolations = []")
    console = [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]
    return events + console


def visit(browser, url: str, ready: tuple) -> None:
    """Open ``url``, wait for ``ready`` (a locator the working page shows), and fail on any violation."""
    browser.get(url)
    wait(browser, EC.presence_of_element_located(ready))
    assert violations(browser) == [], url


def sign_in(browser, site: str, username: str, next_url: str = "/accounts/sessions/") -> None:
    browser.get(f"{site}/accounts/login/?next={next_url}")
    wait(browser, EC.presence_of_element_located((By.ID, "id_username")))
    assert violations(browser) == []
    browser.find_element(By.ID, "id_username").send_keys(username)
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit].button--primary").click()


def test_the_collector_sees_an_inline_script_the_policy_refuses(browser, live_server_url):
    """The check below cannot pass by seeing nothing: an inline script on a Bouncer page is refused and reported."""
    visit(browser, f"{live_server_url}/", (By.TAG_NAME, "main"))
    ran = browser.execute_script(
        "window.__ran = false; const s = document.createElement('script'); s.textContent = 'window.__ran = true';"
        "document.body.appendChild(s); return window.__ran;"
    )
    assert ran is False
    wait(browser, lambda b: b.execute_script("return window.__cspViolations.length") > 0, 10)
    found = violations(browser)
    assert any(isinstance(v, dict) and v["directive"].startswith("script-src") for v in found), found


def test_anonymous_pages_and_swagger_ui_run_under_the_policy(browser, live_server_url):
    site = live_server_url
    visit(browser, f"{site}/", (By.CSS_SELECTOR, "a[href='/api/docs/']"))
    visit(browser, f"{site}/accounts/login/", (By.ID, "id_username"))
    visit(browser, f"{site}/accounts/signup/", (By.ID, "id_username"))
    visit(browser, f"{site}/accounts/password/reset/", (By.ID, "id_email"))
    visit(browser, f"{site}/accounts/verify-email/resend/", (By.TAG_NAME, "form"))
    visit(browser, f"{site}/accounts/password/reset/x/bad-token/", (By.TAG_NAME, "main"))
    visit(browser, f"{site}/accounts/verify-email/not-a-key/", (By.TAG_NAME, "main"))
    # Swagger UI: its start-up script is a file; the operations list renders.
    visit(browser, f"{site}/api/docs/", (By.CSS_SELECTOR, ".opblock"))
    paths = {el.get_attribute("data-path") for el in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert {"/api/accounts/login/", "/api/accounts/events/"} <= paths
    browser.find_element(By.CSS_SELECTOR, ".opblock-summary-path[data-path='/api/accounts/login/']").click()
    wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".opblock-body")))
    assert violations(browser) == []


def test_signed_in_pages_mfa_and_consent_run_under_the_policy(browser, live_server_url, accounts, oauth_app):
    site = live_server_url
    # The second step of a sign-in with an authenticator app.
    sign_in(browser, site, accounts["mfa"])
    wait(browser, EC.url_contains("/accounts/login/mfa/"))
    wait(browser, EC.presence_of_element_located((By.ID, "id_code")))
    assert violations(browser) == []
    browser.find_element(By.ID, "id_code").send_keys(pyotp.TOTP(TOTP_SECRET).now())
    browser.find_element(By.CSS_SELECTOR, "button[type=submit].button--primary").click()
    wait(browser, EC.url_contains("/accounts/sessions/"))
    assert violations(browser) == []
    visit(browser, f"{site}/accounts/security/", (By.TAG_NAME, "h1"))
    visit(browser, f"{site}/accounts/security/verify/", (By.TAG_NAME, "h1"))  # step-up before a sensitive change
    visit(browser, f"{site}/accounts/connections/", (By.TAG_NAME, "h1"))
    visit(browser, f"{site}/accounts/sessions/", (By.TAG_NAME, "h1"))
    # The consent page (/o/authorize/).
    client = OAuth2Session(oauth_app["client_id"], redirect_uri=oauth_app["redirect_uri"], scope="openid read",
                           code_challenge_method="S256", token_endpoint_auth_method="none")
    url, _ = client.create_authorization_url(f"{site}/o/authorize/", code_verifier=generate_token(48), nonce="n")
    visit(browser, url, (By.ID, "authorizationForm"))
    browser.find_element(By.CSS_SELECTOR, 'button[name="allow"]').click()
    wait(browser, EC.url_contains("code="))
    browser.get_log("browser")  # the client's redirect target is not a page under test


def test_security_pages_with_scripts_run_under_the_policy(browser, live_server_url, accounts):
    # localhost: WebAuthn needs an RP ID the origin owns (as in test_mfa_browser.py).
    site = live_server_url.replace("127.0.0.1", "localhost")
    sign_in(browser, site, accounts["plain"])
    wait(browser, EC.url_contains("/accounts/sessions/"))
    # The passkey page: webauthn.js, a file, shows the start button once it runs
    # (tests/e2e/test_mfa_browser.py runs the ceremony end to end).
    visit(browser, f"{site}/accounts/security/keys/add/", (By.CSS_SELECTOR, "[data-webauthn-start]"))
    wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, "[data-webauthn-start]")), 10)
    visit(browser, f"{site}/accounts/security/totp/", (By.TAG_NAME, "h1"))


def test_the_admin_runs_under_the_policy(browser, live_server_url, accounts):
    site = live_server_url
    sign_in(browser, site, accounts["admin"], next_url="/admin/")
    wait(browser, EC.title_contains("Site administration"))
    assert violations(browser) == []
    visit(browser, f"{site}/admin/audit/auditevent/", (By.ID, "result_list"))
    visit(browser, f"{site}/admin/users/user/", (By.ID, "result_list"))
    # The change list's action bar is driven by admin/js/actions.js: ticking a row counts it.
    browser.find_element(By.CSS_SELECTOR, "#result_list input.action-select").click()
    wait(browser, lambda b: "1 of" in b.find_element(By.CSS_SELECTOR, ".action-counter").text, 10)
    visit(browser, f"{site}/admin/users/user/add/", (By.ID, "id_username"))
    assert violations(browser) == []


HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@pytest.mark.parametrize("path", [
    "/", "/accounts/login/", "/api/docs/", "/api/docs/?script=", "/api/schema/", "/api/accounts/profile/",
    "/api/no-such-endpoint/", "/accounts/no-such-page/", "/healthz", "/.well-known/jwks.json",
    "/o/.well-known/openid-configuration", "/static/bouncer/bouncer.css", "/admin/login/",
])
def test_every_answer_carries_the_headers(live_server_url, path):
    response = requests.get(f"{live_server_url}{path}", timeout=10, allow_redirects=False)
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (path, name, response.status_code)
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
