"""Social sign-in in a real headless Chromium, with no mocked provider.

A second Bouncer is the OpenID Connect provider of the first
(``social_provider.py``). The person starts on the relying Bouncer's sign-in
page, presses the provider's button, signs in and consents on the provider
Bouncer's own pages, and comes back signed in with a session; started from
the relying Bouncer's ``/o/authorize/``, its consent page follows. Denying
at the provider lands on a clear page.

The browser reaches the relying Bouncer as ``localhost`` and the provider as
``127.0.0.1``: cookies are per host, not per port, so two sites on one host
would overwrite each other's session cookie (no real deployment shares a
host name between a site and its identity provider). The provider's client
gets that ``localhost`` callback as an extra redirect URI.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.e2e.chromium import chromium_driver, require_chromium
from tests.e2e.oauth_support import create_client, manage
from tests.e2e.social_provider import PROVIDER_ID, PROVIDER_NAME, social_servers, unique_name  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e

require_chromium()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

PASSWORD = "social-browser-pass-41"

_ADD_REDIRECT = """
from oauth2_provider.models import get_application_model
app = get_application_model().objects.get(client_id="{client_id}")
app.redirect_uris = app.redirect_uris + " {uri}"
app.save(update_fields=["redirect_uris"])
"""


@pytest.fixture(scope="module")
def relying(social_servers):  # noqa: F811
    """The relying Bouncer's URL as the browser sees it (``localhost``), its callback registered at the provider."""
    url = social_servers.relying.replace("127.0.0.1", "localhost")
    callback = f"{url}/accounts/oidc/{PROVIDER_ID}/login/callback/"
    manage(social_servers.provider_env, "shell", "-v", "0", "-c",
           _ADD_REDIRECT.format(client_id=social_servers.client_id, uri=callback))
    return url


@pytest.fixture
def browser(tmp_path):
    driver = chromium_driver(tmp_path / "chromium", console_log=True)
    yield driver
    driver.quit()


def wait(browser, condition, seconds: int = 20):
    return WebDriverWait(browser, seconds).until(condition)


def assert_labelled_and_quiet(browser) -> None:
    """Every visible input has a <label>; no console error."""
    for field in browser.find_elements(By.CSS_SELECTOR, "input:not([type=hidden]):not([type=submit])"):
        ident = field.get_attribute("id")
        assert ident and browser.find_elements(By.CSS_SELECTOR, f'label[for="{ident}"]'), field.get_attribute("outerHTML")
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []


def assert_fits_a_phone(browser) -> None:
    """At 360 CSS pixels wide nothing scrolls sideways."""
    browser.set_window_size(360, 800)
    width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1] <= 400, width


def press_provider_button(browser) -> None:
    buttons = browser.find_elements(By.XPATH, f'//form[contains(@action, "/accounts/oidc/{PROVIDER_ID}/login/")]//button')
    assert len(buttons) == 1
    assert buttons[0].text == f"Continue with {PROVIDER_NAME}"
    buttons[0].click()


def sign_in_at_provider(browser, provider: str, username: str) -> None:
    """The provider Bouncer's own sign-in page, then its consent page."""
    # The relying page has an id_username field too: wait for the navigation first.
    wait(browser, EC.url_contains(f"{provider}/accounts/login/"))
    wait(browser, EC.presence_of_element_located((By.ID, "id_username")))
    browser.find_element(By.ID, "id_username").send_keys(username)
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit].button--primary").click()
    wait(browser, EC.presence_of_element_located((By.ID, "authorizationForm")))
    assert urlsplit(browser.current_url).path == "/o/authorize/"
    assert "Relying Bouncer" in browser.find_element(By.TAG_NAME, "h1").text


def session_profile(browser, relying: str) -> requests.Response:
    cookie = browser.get_cookie("sessionid")
    assert cookie and cookie["httpOnly"]
    return requests.get(f"{relying}/api/accounts/profile/", cookies={"sessionid": cookie["value"]}, timeout=10)


def test_sign_in_with_the_provider_from_the_sign_in_page(browser, social_servers, relying):  # noqa: F811
    username = unique_name("idp-")
    social_servers.provider_user(username, PASSWORD, verified=True)
    browser.get(f"{relying}/accounts/login/")
    assert_labelled_and_quiet(browser)
    before = browser.get_cookie("sessionid")
    press_provider_button(browser)

    sign_in_at_provider(browser, social_servers.provider, username)
    browser.find_element(By.CSS_SELECTOR, 'button[name="allow"]').click()

    # Back at the relying Bouncer, signed in with a new session id.
    wait(browser, EC.url_contains(f"{relying}/o/authorized_tokens/"))
    assert f"Signed in as {username}" in browser.find_element(By.CSS_SELECTOR, "header").text.replace("\n", " ")
    assert before is None or browser.get_cookie("sessionid")["value"] != before["value"]
    profile = session_profile(browser, relying)
    assert profile.status_code == 200
    assert profile.json()["username"] == username and profile.json()["is_staff"] is False

    # The connected-accounts page lists the provider.
    browser.get(f"{relying}/accounts/connections/")
    listing = browser.find_element(By.CSS_SELECTOR, "ul.items").text
    assert PROVIDER_NAME in listing
    assert_labelled_and_quiet(browser)

    # Both pages on a phone-sized screen; unlinking the only way in is refused with a message.
    assert_fits_a_phone(browser)
    browser.find_element(By.XPATH, "//ul[@class='items']//button[normalize-space()='Unlink']").click()
    wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, "[role=alert]")))
    assert "last way to sign in" in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
    assert PROVIDER_NAME in browser.find_element(By.CSS_SELECTOR, "ul.items").text
    browser.get(f"{relying}/accounts/login/")
    assert_fits_a_phone(browser)


def test_oauth_authorization_continues_to_consent_after_social_sign_in(browser, social_servers, relying):  # noqa: F811
    username = unique_name("idp-")
    social_servers.provider_user(username, PASSWORD, verified=True)
    redirect_uri = f"{relying}/healthz"
    client_id, _ = create_client(social_servers.relying_env, "Demo SPA", "--type", "public", "--grant", "authorization-code",
                                 "--redirect-uri", redirect_uri)
    state = secrets.token_urlsafe(8)
    authorize = f"{relying}/o/authorize/?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": "read", "state": state,
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256",
    })
    browser.get(authorize)
    wait(browser, EC.url_contains("/accounts/login/"))
    press_provider_button(browser)
    sign_in_at_provider(browser, social_servers.provider, username)
    browser.find_element(By.CSS_SELECTOR, 'button[name="allow"]').click()

    # The relying Bouncer's own consent page, for its own client, then its redirect
    # (the provider's consent page has an authorizationForm too: wait for the navigation first).
    wait(browser, EC.url_contains(f"{relying}/o/authorize/"))
    wait(browser, EC.presence_of_element_located((By.ID, "authorizationForm")))
    assert "Demo SPA" in browser.find_element(By.TAG_NAME, "h1").text
    browser.find_element(By.CSS_SELECTOR, 'button[name="allow"]').click()
    wait(browser, EC.url_contains("code="))
    landed = parse_qs(urlsplit(browser.current_url).query)
    assert browser.current_url.startswith(redirect_uri + "?") and landed["state"] == [state]


def test_denied_consent_at_the_provider_lands_on_a_clear_page(browser, social_servers, relying):  # noqa: F811
    username = unique_name("idp-")
    social_servers.provider_user(username, PASSWORD, verified=True)
    browser.get(f"{relying}/accounts/login/")
    press_provider_button(browser)
    sign_in_at_provider(browser, social_servers.provider, username)
    browser.find_element(By.XPATH, "//form[@id='authorizationForm']//button[normalize-space()='Deny']").click()

    wait(browser, EC.title_contains("Sign-in did not complete"))
    assert browser.current_url.startswith(f"{relying}/accounts/oidc/{PROVIDER_ID}/login/callback/")
    assert f"You cancelled at {PROVIDER_NAME}" in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
    assert_fits_a_phone(browser)
    assert browser.find_element(By.LINK_TEXT, "Back to the sign-in page").get_attribute("href").startswith(f"{relying}/accounts/login/")
    assert browser.get_cookie("sessionid") is None or session_profile(browser, relying).status_code in (401, 403)
    assert requests.get(f"{relying}/accounts/oidc/{PROVIDER_ID}/login/callback/?error=access_denied", timeout=10).status_code == 400


def test_link_the_provider_from_the_connected_accounts_page(browser, social_servers, relying):  # noqa: F811
    local, remote = unique_name("rp-"), unique_name("idp-")
    social_servers.relying_user(local, PASSWORD)
    social_servers.provider_user(remote, PASSWORD, verified=True)
    browser.get(f"{relying}/accounts/login/?next=/accounts/connections/")
    browser.find_element(By.ID, "id_username").send_keys(local)
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit].button--primary").click()
    wait(browser, EC.url_contains("/accounts/connections/"))
    assert "No provider is linked" in browser.find_element(By.TAG_NAME, "main").text
    button = browser.find_element(By.XPATH, f"//button[normalize-space()='Link {PROVIDER_NAME}']")
    button.click()

    sign_in_at_provider(browser, social_servers.provider, remote)
    browser.find_element(By.CSS_SELECTOR, 'button[name="allow"]').click()

    wait(browser, EC.url_contains(f"{relying}/accounts/connections/"))
    assert f"{PROVIDER_NAME} is linked" in browser.find_element(By.CSS_SELECTOR, "[role=status]").text
    assert PROVIDER_NAME in browser.find_element(By.CSS_SELECTOR, "ul.items").text
    assert session_profile(browser, relying).json()["username"] == local  # still the same person

    # With a password as well, this link may go.
    browser.find_element(By.XPATH, "//ul[@class='items']//button[normalize-space()='Unlink']").click()
    # The "is linked" status is still on the page until the next one loads: wait for the new text.
    wait(browser, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[role=status]"), "unlinked"))
    assert "No provider is linked" in browser.find_element(By.TAG_NAME, "main").text
