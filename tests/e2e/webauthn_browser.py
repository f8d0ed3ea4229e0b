"""WebAuthn in the real headless Chromium: a virtual authenticator instead of a person with a key.

Chromium (through chromedriver's WebAuthn commands, the DevTools WebAuthn
domain) simulates an authenticator that answers ``navigator.credentials``
calls with no dialog. Pages under test run their own JavaScript unchanged;
the test reads back what the authenticator holds.

    driver = chromium_driver(tmp_path / "chromium")  # tests/e2e/chromium.py
    add_authenticator(driver)                       # a passkey with a PIN or fingerprint
    driver.get(f"{url}/accounts/2fa/webauthn/add/")
    ...
    assert len(driver.get_credentials()) == 1

One authenticator per driver at a time (selenium keeps the id of the last one
added). WebAuthn needs a secure context: ``https://``, or ``http://localhost``
(and ``*.localhost``), which Chromium treats as secure. ``http://127.0.0.1``
is not a valid RP ID, so pages using WebAuthn are opened as ``localhost``.
"""

from __future__ import annotations

import json
from typing import Any

from selenium.webdriver.common.virtual_authenticator import Credential, VirtualAuthenticatorOptions

__all__ = [
    "add_authenticator",
    "create_credential",
    "get_assertion",
    "remove_all_credentials",
    "remove_authenticator",
    "stored_credentials",
]


def add_authenticator(
    driver,
    *,
    resident: bool = True,
    user_verified: bool = True,
    transport: str = "internal",
    protocol: str = "ctap2",
    user_consenting: bool = True,
) -> str:
    """Attach a virtual authenticator to ``driver`` and return its id.

    ``resident``: it can store discoverable credentials (passkeys).
    ``user_verified``: it can verify the user (PIN, biometrics) and does;
    ``False`` is a plain security key, whose responses never carry the UV flag.
    ``transport``: "internal" (a platform authenticator, like a laptop's
    fingerprint reader), "usb", "nfc" or "ble". ``protocol``: "ctap2" or
    "ctap1/u2f". ``user_consenting=False`` makes every ceremony fail as if the
    person cancelled (NotAllowedError).
    """
    driver.add_virtual_authenticator(VirtualAuthenticatorOptions(
        protocol=protocol,
        transport=transport,
        has_resident_key=resident,
        has_user_verification=user_verified,
        is_user_verified=user_verified,
        is_user_consenting=user_consenting,
    ))
    return driver.virtual_authenticator_id


def stored_credentials(driver) -> list[Credential]:
    """The credentials the authenticator holds (id, rp_id, user_handle, sign_count, resident or not)."""
    return driver.get_credentials()


def remove_all_credentials(driver) -> None:
    driver.remove_all_credentials()


def remove_authenticator(driver) -> None:
    """Detach the authenticator (its credentials go with it)."""
    driver.remove_virtual_authenticator()


_CEREMONY = """
const [kind, optionsJson, done] = arguments;
const options = JSON.parse(optionsJson);
const publicKey = options.publicKey || options;
// Inside then(): a TypeError from the JSON parsers is reported like a refused ceremony.
Promise.resolve().then(() => kind === "create"
  ? navigator.credentials.create({publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(publicKey)})
  : navigator.credentials.get({publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(publicKey)})
).then(
  (credential) => done({ok: credential.toJSON()}),
  (error) => done({error: error.name, message: error.message}),
);
"""


class WebAuthnError(Exception):
    """The browser refused the ceremony; ``name`` is the error's: NotAllowedError, SecurityError,
    InvalidStateError..., or TypeError for options its JSON parser rejects (Chromium requires
    ``user.name`` and ``user.displayName``, which fido2 lets a server leave out)."""

    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name = name


def _ceremony(driver, kind: str, options: dict[str, Any]) -> dict:
    result = driver.execute_async_script(_CEREMONY, kind, json.dumps(options))
    if "error" in result:
        raise WebAuthnError(result["error"], result["message"])
    return result["ok"]


def create_credential(driver, options: dict[str, Any]) -> dict:
    """Run ``navigator.credentials.create`` in the current page with JSON creation options
    (``{"publicKey": {...}}`` or the inner dict, as fido2's ``register_begin`` gives them);
    returns the browser's ``toJSON()`` of the new credential, a RegistrationResponse JSON dict.
    Raises WebAuthnError when the browser refuses."""
    return _ceremony(driver, "create", options)


def get_assertion(driver, options: dict[str, Any]) -> dict:
    """The same with ``navigator.credentials.get``: an AuthenticationResponse JSON dict."""
    return _ceremony(driver, "get", options)
