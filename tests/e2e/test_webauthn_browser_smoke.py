"""The virtual authenticator in a real headless Chromium answers a page's WebAuthn calls.

A static page on a local ``http.server`` (no Bouncer) calls
``navigator.credentials.create`` from its own script; the authenticator then
holds the credential. The same browser's JSON output goes through a real
fido2 ``Fido2Server``, and the browser refuses an RP ID the page's origin
does not own (which ``tests/multifactor/softkey.py``, a careless client on
purpose, lets through).

Needs Debian's chromium and chromium-driver (.ci/run installs them). Without
them the tests skip locally, but never in CI (CI=true).
"""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.e2e.chromium import chromium_driver, require_chromium

pytestmark = pytest.mark.e2e

require_chromium()

from fido2.server import Fido2Server  # noqa: E402
from fido2.utils import websafe_decode  # noqa: E402
from fido2.webauthn import (  # noqa: E402
    AuthenticationResponse,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from tests.e2e.webauthn_browser import (  # noqa: E402
    WebAuthnError,
    add_authenticator,
    create_credential,
    get_assertion,
    remove_authenticator,
    stored_credentials,
)

USER_ID = b"user-42"

# A fixed challenge and user, as a server-rendered page would embed them.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>WebAuthn smoke</title></head>
<body>
<pre id="result" data-state="pending"></pre>
<script>
const bytes = (text) => new TextEncoder().encode(text);
navigator.credentials.create({publicKey: {
  rp: {id: "localhost", name: "Bouncer smoke"},
  user: {id: bytes("user-42"), name: "alice", displayName: "Alice"},
  challenge: bytes("a-fixed-challenge-of-32-bytes!!!"),
  pubKeyCredParams: [{type: "public-key", alg: -7}],
  authenticatorSelection: {residentKey: "required", userVerification: "required"},
  extensions: {credProps: true},
}}).then(
  (credential) => { result.textContent = JSON.stringify(credential.toJSON()); result.dataset.state = "created"; },
  (error) => { result.textContent = error.name + ": " + error.message; result.dataset.state = "failed"; },
);
</script>
</body></html>
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass


@pytest.fixture(scope="module")
def page_origin(tmp_path_factory):
    """``http://localhost:<free port>`` serving PAGE as /create.html and an empty /blank.html."""
    root = tmp_path_factory.mktemp("webauthn-page")
    (root / "create.html").write_text(PAGE)
    (root / "blank.html").write_text("<!doctype html><title>blank</title>")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = chromium_driver(tmp_path_factory.mktemp("chromium"))
    yield driver
    driver.quit()


@pytest.fixture
def authenticator(browser):
    """A passkey-capable platform authenticator, removed (with its credentials) after the test."""
    add_authenticator(browser)
    yield browser
    remove_authenticator(browser)


def test_a_page_creating_a_credential_leaves_it_in_the_authenticator(authenticator, page_origin):
    browser = authenticator
    assert stored_credentials(browser) == []
    browser.get(f"{page_origin}/create.html")
    result = WebDriverWait(browser, 20).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "#result:not([data-state=pending])"))
    )
    assert result.get_attribute("data-state") == "created", result.text

    [credential] = stored_credentials(browser)
    assert credential.rp_id == "localhost"
    assert credential.is_resident_credential
    assert websafe_decode(credential.user_handle) == USER_ID


def test_the_browsers_credential_registers_and_signs_in_at_a_fido2_server(authenticator, page_origin):
    browser = authenticator
    browser.get(f"{page_origin}/blank.html")
    server = Fido2Server(PublicKeyCredentialRpEntity(id="localhost", name="Bouncer"),
                         verify_origin=lambda origin: origin == page_origin)
    options, state = server.register_begin(
        PublicKeyCredentialUserEntity(id=USER_ID, name="alice", display_name="Alice"),
        resident_key_requirement=ResidentKeyRequirement.REQUIRED,
        user_verification=UserVerificationRequirement.REQUIRED,
        extensions={"credProps": True},
    )
    registration = create_credential(browser, dict(options))
    assert registration["clientExtensionResults"] == {"credProps": {"rk": True}}
    assert registration["authenticatorAttachment"] == "platform"
    assert "internal" in registration["response"]["transports"]
    auth_data = server.register_complete(state, registration)
    assert auth_data.is_user_verified()

    counters = [auth_data.counter]
    for _ in range(2):  # a discoverable sign-in: no allowCredentials
        options, state = server.authenticate_begin(user_verification=UserVerificationRequirement.REQUIRED)
        assertion = get_assertion(browser, dict(options))
        assert server.authenticate_complete(state, [auth_data.credential_data], assertion) == auth_data.credential_data
        assert websafe_decode(assertion["response"]["userHandle"]) == USER_ID
        counters.append(AuthenticationResponse.from_dict(assertion).response.authenticator_data.counter)
    # Chromium's virtual authenticator counts every signature of a credential, its creation included.
    [credential] = stored_credentials(browser)
    assert counters == [1, 2, 3] and credential.sign_count == 3


def test_the_browser_refuses_an_rp_id_the_origin_does_not_own(authenticator, page_origin):
    browser = authenticator
    browser.get(f"{page_origin}/blank.html")
    server = Fido2Server(PublicKeyCredentialRpEntity(id="evil.example", name="Not us"))
    options, _ = server.register_begin(PublicKeyCredentialUserEntity(id=USER_ID, name="alice", display_name="Alice"))
    with pytest.raises(WebAuthnError) as refused:
        create_credential(browser, dict(options))
    assert refused.value.name == "SecurityError"
    assert stored_credentials(browser) == []


def test_options_without_a_display_name_are_refused_by_the_browser(authenticator, page_origin):
    browser = authenticator
    browser.get(f"{page_origin}/blank.html")
    server = Fido2Server(PublicKeyCredentialRpEntity(id="localhost", name="Bouncer"))
    options, _ = server.register_begin(PublicKeyCredentialUserEntity(id=USER_ID, name="alice"))  # fido2 allows it
    with pytest.raises(WebAuthnError) as refused:
        create_credential(browser, dict(options))
    assert refused.value.name == "TypeError" and "displayName" in str(refused.value)
    assert stored_credentials(browser) == []
