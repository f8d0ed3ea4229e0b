"""Second factors in a real headless Chromium against Bouncer under gunicorn.

Passkeys: Chromium's virtual authenticator (a platform authenticator with a
fingerprint reader, as far as the page can tell) answers the pages' own
script (bouncer/multifactor/static/multifactor/webauthn.js). A passkey is
added on the Security page, then signs in alone (the sign-in page's button),
then as the second factor after a password, and both ways continue through
the OAuth2 consent page to a token. TOTP: an authenticator app set up on the
Security page (its QR code and secret), then the code page with pyotp's codes.
Every page fits a 360 px wide screen and logs no console error.

The browser opens the server as ``localhost``: WebAuthn needs a secure
context and an RP ID the origin owns (``127.0.0.1`` is neither); the server
accepts http://localhost on any port outside production.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

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

from tests.e2e.webauthn_browser import add_authenticator, remove_authenticator, stored_credentials  # noqa: E402

PASSWORD = "mfa-browser-pass-53"
PHONE_WIDTH = 360

_SESSION_AMR = """
from importlib import import_module
from django.conf import settings
store = import_module(settings.SESSION_ENGINE).SessionStore(session_key="{key}")
print(" ".join(store.get("bouncer_amr") or []))
"""

_TOTP_FACTOR = """
from bouncer.multifactor.totp import totp_activate
from bouncer.users.models import User
totp_activate(user=User.objects.get(username="{username}"), secret="{secret}", step=0)
"""


@pytest.fixture(scope="module")
def site(live_server_url) -> str:
    return live_server_url.replace("127.0.0.1", "localhost")


@pytest.fixture
def browser(tmp_path):
    driver = chromium_driver(tmp_path / "chromium", console_log=True)
    driver.set_window_size(1024, 900)
    yield driver
    driver.quit()


@pytest.fixture
def authenticator(browser):
    """A passkey-capable platform authenticator (resident keys, user verification)."""
    add_authenticator(browser)
    yield browser
    remove_authenticator(browser)


def new_user(env: dict, prefix: str) -> str:
    username = f"{prefix}{secrets.token_hex(3)}"
    manage(env, "shell", "-v", "0", "-c",
           f"from bouncer.users.models import User; User.objects.create_user('{username}', '{username}@example.com', '{PASSWORD}')")
    return username


def wait(browser, condition, seconds: int = 20):
    return WebDriverWait(browser, seconds).until(condition)


def console_errors(browser) -> list[dict]:
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def assert_page_ok(browser) -> None:
    """A label for every visible input, no console error, and nothing wider than a phone's screen."""
    for field in browser.find_elements(By.CSS_SELECTOR, "input:not([type=hidden]):not([type=submit])"):
        ident = field.get_attribute("id")
        assert ident and browser.find_elements(By.CSS_SELECTOR, f'label[for="{ident}"]'), field.get_attribute("outerHTML")
    assert console_errors(browser) == []
    size = browser.get_window_size()
    browser.set_window_size(PHONE_WIDTH, 800)
    try:
        width = browser.execute_script("return document.documentElement.clientWidth")
        assert width <= PHONE_WIDTH
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width
        assert browser.execute_script("return getComputedStyle(document.querySelector('.card')).display") != "inline"
    finally:
        browser.set_window_size(size["width"], size["height"])


def expected_http_error(browser, status: int) -> None:
    """The page just answered ``status`` on purpose (a wrong code): that console line, and no other."""
    entries = console_errors(browser)
    assert entries and all(f"status of {status}" in entry["message"] for entry in entries), entries


def sign_in_with_password(browser, username: str) -> None:
    wait(browser, EC.presence_of_element_located((By.ID, "id_username")))
    browser.find_element(By.ID, "id_username").send_keys(username)
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit].button--primary").click()


def signed_in_as(browser) -> str:
    header = browser.find_element(By.CSS_SELECTOR, "header").text.replace("\n", " ")
    return header.split("Signed in as ", 1)[1].split(" ")[0] if "Signed in as " in header else ""


def sign_out(browser, site: str) -> None:
    browser.get(f"{site}/accounts/sessions/")
    browser.find_element(By.XPATH, "//header//button[normalize-space()='Sign out']").click()
    wait(browser, EC.url_contains("/accounts/login/"))


def session_amr(browser, env: dict) -> list[str]:
    cookie = browser.get_cookie("sessionid")
    assert cookie and cookie["httpOnly"]
    return manage(env, "shell", "-v", "0", "-c", _SESSION_AMR.format(key=cookie["value"])).split()


def authorization(site: str, app: dict) -> tuple[OAuth2Session, str, str, str]:
    client = OAuth2Session(app["client_id"], redirect_uri=app["redirect_uri"], scope="openid read",
                           code_challenge_method="S256", token_endpoint_auth_method="none")
    verifier = generate_token(48)
    url, state = client.create_authorization_url(f"{site}/o/authorize/", code_verifier=verifier, nonce=secrets.token_urlsafe(8))
    return client, url, state, verifier


def consent_and_token(browser, site: str, client: OAuth2Session, state: str, verifier: str) -> dict:
    wait(browser, EC.presence_of_element_located((By.ID, "authorizationForm")))
    assert urlsplit(browser.current_url).path == "/o/authorize/"
    browser.find_element(By.CSS_SELECTOR, 'button[name="allow"]').click()
    wait(browser, EC.url_contains("code="))
    landed = browser.current_url
    assert parse_qs(urlsplit(landed).query)["state"] == [state]
    token = client.fetch_token(f"{site}/o/token/", authorization_response=landed, code_verifier=verifier)
    assert requests.get(f"{site}/api/accounts/profile/", headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10).status_code == 200
    browser.get_log("browser")  # the client's redirect target is not a page under test
    return token


@pytest.fixture(scope="module")
def oauth_app(site, live_server_env):
    redirect_uri = f"{site}/healthz"
    client_id, _ = create_client(live_server_env, "MFA Browser App", "--type", "public", "--grant", "authorization-code",
                                 "--redirect-uri", redirect_uri)
    return {"client_id": client_id, "redirect_uri": redirect_uri}


def test_a_passkey_added_on_the_security_page_signs_in_alone_and_as_a_second_factor(authenticator, site, live_server_env, oauth_app):
    browser = authenticator
    username = new_user(live_server_env, "passkey-")
    browser.get(f"{site}/accounts/login/")
    sign_in_with_password(browser, username)
    wait(browser, EC.url_contains("/o/authorized_tokens/"))

    # The Security section, from the account pages' navigation.
    browser.find_element(By.LINK_TEXT, "Security").click()
    wait(browser, EC.title_contains("Security"))
    assert_page_ok(browser)
    browser.find_element(By.LINK_TEXT, "Add a passkey").click()
    wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, "[data-webauthn-start]")))
    assert_page_ok(browser)
    name = browser.find_element(By.ID, "id_name")
    name.clear()
    name.send_keys("Laptop fingerprint")
    browser.find_element(By.CSS_SELECTOR, "[data-webauthn-start]").click()
    wait(browser, EC.title_contains("Your recovery codes"))
    assert "The passkey is set up" in browser.find_element(By.TAG_NAME, "h1").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "ul.codes li")) == 10
    assert_page_ok(browser)
    [credential] = stored_credentials(browser)
    assert credential.rp_id == "localhost" and credential.is_resident_credential
    browser.find_element(By.LINK_TEXT, "I have saved them, continue").click()
    wait(browser, EC.title_contains("Security"))
    assert "Laptop fingerprint (passkey)" in browser.find_element(By.CSS_SELECTOR, "ul.items").text

    # Signed out, the passkey alone signs in (the sign-in page's button), then on to the consent page and a token.
    sign_out(browser, site)
    client, url, state, verifier = authorization(site, oauth_app)
    browser.get(url)
    wait(browser, EC.visibility_of_element_located((By.XPATH, "//button[normalize-space()='Sign in with a passkey']")))
    assert_page_ok(browser)
    browser.find_element(By.XPATH, "//button[normalize-space()='Sign in with a passkey']").click()
    token = consent_and_token(browser, site, client, state, verifier)
    assert token["id_token"]
    assert session_amr(browser, live_server_env) == ["swk", "mfa"]

    # With the password, the passkey is the second step: the code page's button, then the consent page again.
    sign_out(browser, site)
    client, url, state, verifier = authorization(site, oauth_app)
    browser.get(url)
    sign_in_with_password(browser, username)
    wait(browser, EC.url_contains("/accounts/login/mfa/"))
    assert "Confirm it is you" in browser.find_element(By.TAG_NAME, "h1").text
    assert browser.find_elements(By.ID, "authorizationForm") == []
    button = wait(browser, EC.visibility_of_element_located((By.XPATH, "//button[normalize-space()='Use your security key']")))
    assert_page_ok(browser)
    button.click()
    consent_and_token(browser, site, client, state, verifier)
    assert session_amr(browser, live_server_env) == ["pwd", "swk", "mfa"]

    # Removing it needs a step-up: the key again, then the passkey is gone.
    browser.get(f"{site}/accounts/security/")
    browser.find_element(By.CSS_SELECTOR, 'button[aria-label="Remove Laptop fingerprint"]').click()
    wait(browser, EC.url_contains("/accounts/security/verify/"))
    assert_page_ok(browser)
    wait(browser, EC.visibility_of_element_located((By.XPATH, "//button[normalize-space()='Use your security key']"))).click()
    wait(browser, EC.url_matches(r"/accounts/security/$"))
    browser.find_element(By.CSS_SELECTOR, 'button[aria-label="Remove Laptop fingerprint"]').click()
    wait(browser, EC.presence_of_element_located((By.XPATH, "//*[contains(text(), 'it can no longer sign in')]")))
    assert "Laptop fingerprint" not in browser.find_element(By.ID, "main").text
    assert console_errors(browser) == []


def test_an_authenticator_app_set_up_in_the_browser_and_the_code_page(browser, site, live_server_env, oauth_app):
    # Set up on the Security page: the QR code and the secret, confirmed by a first code.
    username = new_user(live_server_env, "totp-")
    browser.get(f"{site}/accounts/login/?next=/accounts/security/")
    sign_in_with_password(browser, username)
    wait(browser, EC.title_contains("Security"))
    browser.find_element(By.LINK_TEXT, "Set up an authenticator app").click()
    wait(browser, EC.presence_of_element_located((By.ID, "totp-secret")))
    qr = browser.find_element(By.CSS_SELECTOR, "figure.qr svg")
    assert qr.size["width"] >= 100 and qr.size["height"] >= 100
    assert_page_ok(browser)
    app = pyotp.TOTP(browser.find_element(By.ID, "totp-secret").text)
    browser.find_element(By.ID, "id_code").send_keys("000000" if app.now() != "000000" else "111111")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit].button--primary").click()
    wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, "[role=alert]")))
    assert "That code is not correct" in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
    assert browser.find_element(By.ID, "totp-secret").text == app.secret  # the same code to scan
    expected_http_error(browser, 400)
    browser.find_element(By.ID, "id_code").send_keys(app.now())
    browser.find_element(By.CSS_SELECTOR, "button[type=submit].button--primary").click()
    wait(browser, EC.title_contains("Your recovery codes"))
    codes = [element.text for element in browser.find_elements(By.CSS_SELECTOR, "ul.codes li code")]
    assert len(codes) == 10
    assert_page_ok(browser)

    # The app's next code cannot be had without waiting out its window: the sign-in uses a recovery code.
    sign_out(browser, site)
    browser.get(f"{site}/accounts/login/")
    sign_in_with_password(browser, username)
    wait(browser, EC.url_contains("/accounts/login/mfa/"))
    browser.find_element(By.ID, "id_code").send_keys(codes[0])
    browser.find_element(By.CSS_SELECTOR, "button[type=submit].button--primary").click()
    wait(browser, EC.url_contains("/o/authorized_tokens/"))
    assert signed_in_as(browser) == username
    assert session_amr(browser, live_server_env) == ["pwd", "otp", "mfa"]


def test_the_code_page_with_pyotp_then_the_consent_page(browser, site, live_server_env, oauth_app):
    username = new_user(live_server_env, "code-")
    secret = pyotp.random_base32()
    manage(live_server_env, "shell", "-v", "0", "-c", _TOTP_FACTOR.format(username=username, secret=secret))
    app = pyotp.TOTP(secret)
    client, url, state, verifier = authorization(site, oauth_app)
    browser.get(url)
    sign_in_with_password(browser, username)
    wait(browser, EC.url_contains("/accounts/login/mfa/"))
    assert browser.find_element(By.CSS_SELECTOR, "label[for=id_code]").text == "Code from your authenticator app"
    assert browser.find_elements(By.CSS_SELECTOR, "[data-webauthn-start]") == []  # no key: no key button
    assert_page_ok(browser)
    browser.find_element(By.ID, "id_code").send_keys("000000" if app.now() != "000000" else "111111")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit].button--primary").click()
    wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, "[role=alert]")))
    assert "That code is not correct" in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
    assert signed_in_as(browser) == ""
    expected_http_error(browser, 400)
    browser.find_element(By.ID, "id_code").send_keys(app.now())
    browser.find_element(By.CSS_SELECTOR, "button[type=submit].button--primary").click()
    consent_and_token(browser, site, client, state, verifier)
    assert session_amr(browser, live_server_env) == ["pwd", "otp", "mfa"]
