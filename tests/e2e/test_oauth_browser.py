"""The OAuth2 authorization flow in a real headless Chromium: sign-in page,
consent page, the redirect back with a code, the authorized applications
page and revoking there, and Deny. No JavaScript is needed by any page, none
logs a console error, and every input has a <label>.

Needs Debian's chromium and chromium-driver, like test_browser.py.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

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

USERNAME = "browser-oauth"
PASSWORD = "browser-oauth-pass-37"
APP_NAME = "Browser Demo App"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = chromium_driver(tmp_path_factory.mktemp("chromium-oauth"), console_log=True)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def app(live_server_url, live_server_env):
    """A public client whose redirect URI is a page of the live server itself (/healthz)."""
    manage(live_server_env, "shell", "-v", "0", "-c",
           f"from bouncer.users.models import User; User.objects.create_user('{USERNAME}', 'b@example.com', '{PASSWORD}')")
    redirect_uri = f"{live_server_url}/healthz"
    client_id, _ = create_client(live_server_env, APP_NAME, "--type", "public", "--grant", "authorization-code",
                                 "--redirect-uri", redirect_uri)
    return {"client_id": client_id, "redirect_uri": redirect_uri}


def authorization_url(live_server_url, app) -> tuple[OAuth2Session, str, str, str]:
    client = OAuth2Session(app["client_id"], redirect_uri=app["redirect_uri"], scope="openid read",
                           code_challenge_method="S256", token_endpoint_auth_method="none")
    verifier = generate_token(48)
    url, state = client.create_authorization_url(f"{live_server_url}/o/authorize/", code_verifier=verifier,
                                                 nonce=secrets.token_urlsafe(8))
    return client, url, state, verifier


def console_errors(browser) -> list[dict]:
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def assert_accessible_page(browser) -> None:
    """lang set, our stylesheet loaded, a label for every visible input, no console error."""
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert browser.find_element(By.CSS_SELECTOR, "link[rel=stylesheet]").get_attribute("href").endswith(".css")
    for field in browser.find_elements(By.CSS_SELECTOR, "input:not([type=hidden]):not([type=submit]), select, textarea"):
        ident = field.get_attribute("id")
        assert ident, field.get_attribute("outerHTML")
        assert browser.find_elements(By.CSS_SELECTOR, f'label[for="{ident}"]'), f"no <label> for #{ident}"
    assert console_errors(browser) == []


def query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_sign_in_consent_allow_then_revoke_on_the_authorized_applications_page(browser, live_server_url, app):
    client, url, state, verifier = authorization_url(live_server_url, app)
    browser.get(url)

    # Sent to Bouncer's sign-in page.
    WebDriverWait(browser, 15).until(EC.url_contains("/accounts/login/"))
    assert browser.title.startswith("Sign in")
    assert_accessible_page(browser)
    css = requests.get(browser.find_element(By.CSS_SELECTOR, "link[rel=stylesheet]").get_attribute("href"), timeout=10)
    assert css.status_code == 200 and "text/css" in css.headers["Content-Type"]
    browser.find_element(By.ID, "id_username").send_keys(USERNAME)
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit].button--primary").click()

    # The consent page: the application and its scopes.
    WebDriverWait(browser, 15).until(EC.presence_of_element_located((By.ID, "authorizationForm")))
    assert urlsplit(browser.current_url).path == "/o/authorize/"
    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert APP_NAME in heading
    scopes = browser.find_element(By.CSS_SELECTOR, "ul.scopes").text
    assert "Sign you in (OpenID Connect)" in scopes and "Read your data" in scopes
    assert_accessible_page(browser)
    browser.find_element(By.CSS_SELECTOR, 'button[name="allow"]').click()

    # Back at the client's redirect URI with a code.
    WebDriverWait(browser, 15).until(EC.url_contains("code="))
    landed = browser.current_url
    assert landed.startswith(app["redirect_uri"] + "?")
    assert query(landed)["state"] == state
    token = client.fetch_token(f"{live_server_url}/o/token/", authorization_response=landed, code_verifier=verifier)
    assert token["id_token"] and "read" in token["scope"].split()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(f"{live_server_url}/api/accounts/profile/", headers=headers, timeout=10).status_code == 200
    browser.get_log("browser")  # the redirect target is not one of the pages under test

    # The authorized applications page lists it; revoking ends the token.
    browser.get(f"{live_server_url}/o/authorized_tokens/")
    WebDriverWait(browser, 15).until(EC.title_contains("Authorized applications"))
    listing = browser.find_element(By.CSS_SELECTOR, "ul.items").text
    assert APP_NAME in listing and "Read your data" in listing and "Authorized" in listing
    assert_accessible_page(browser)
    browser.find_element(By.CSS_SELECTOR, "ul.items button.button--danger").click()
    WebDriverWait(browser, 15).until(EC.presence_of_element_located((By.XPATH, "//*[contains(text(), 'You have not authorized any application.')]")))
    assert APP_NAME not in browser.find_element(By.ID, "main").text
    assert requests.get(f"{live_server_url}/api/accounts/profile/", headers=headers, timeout=10).status_code == 401
    assert console_errors(browser) == []


def test_deny_returns_access_denied(browser, live_server_url, app):
    _, url, state, _ = authorization_url(live_server_url, app)
    browser.get(url)  # still signed in from the test above, or signs in now
    if "/accounts/login/" in browser.current_url:
        browser.find_element(By.ID, "id_username").send_keys(USERNAME)
        browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "button[type=submit].button--primary").click()
    WebDriverWait(browser, 15).until(EC.presence_of_element_located((By.ID, "authorizationForm")))
    browser.find_element(By.XPATH, "//form[@id='authorizationForm']//button[normalize-space()='Deny']").click()
    WebDriverWait(browser, 15).until(EC.url_contains("error="))
    landed = query(browser.current_url)
    assert browser.current_url.startswith(app["redirect_uri"] + "?")
    assert landed["error"] == "access_denied" and landed["state"] == state and "code" not in landed


def test_sign_out_from_the_header(browser, live_server_url, app):
    browser.get(f"{live_server_url}/o/authorized_tokens/")
    WebDriverWait(browser, 15).until(EC.title_contains("Authorized applications"))
    browser.find_element(By.XPATH, "//button[normalize-space()='Sign out']").click()
    WebDriverWait(browser, 15).until(EC.url_contains("/accounts/login/"))
    assert "You are signed out." in browser.find_element(By.CSS_SELECTOR, "[role=status]").text
    browser.get(f"{live_server_url}/o/authorized_tokens/")
    WebDriverWait(browser, 15).until(EC.url_contains("/accounts/login/?next="))
    assert console_errors(browser) == []
