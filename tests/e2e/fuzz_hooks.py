"""Schemathesis hooks for tests/e2e/test_fuzz_api.py (loaded through SCHEMATHESIS_HOOKS).

Every operation gets a real credential of one fuzz account. The kinds take
turns by operation (a DRF token, a JWT, an OAuth2 access token with every
scope), each kind its own account so that one kind's "sign out everywhere
else" cannot end another kind's credential mid-run. ``/api/auth-token/logout/``
ends the very token it is sent with, so each of its cases gets a token minted
for it, of an account no other operation touches.
"""

from __future__ import annotations

import json
import os
import zlib

import requests
import schemathesis

CREDENTIALS = json.loads(os.environ["BOUNCER_FUZZ_CREDENTIALS"])
KINDS = ("token", "jwt", "oauth2")
SELF_REVOKING = "/api/auth-token/logout/"


#: Operations one kind of credential is for: userinfo takes an OAuth2 token; factor management
#: refuses OAuth2 tokens (only a token or a JWT reaches it); the OAuth2 client endpoints
#: authenticate the client itself (HTTP Basic with the fuzz client's id and secret).
ONLY = (
    ("/o/userinfo/", ("oauth2",)),
    ("/api/auth/mfa/", ("token", "jwt")),
    ("/o/token/", ("client",)),
    ("/o/introspect/", ("client",)),
    ("/o/revoke_token/", ("client",)),
    ("/o/device-authorization/", ("client",)),
)


def kind_for(path: str, label: str) -> str:
    """The credential kind of an operation: stable for a label, spread over the kinds it can use."""
    kinds = next((only for prefix, only in ONLY if path.startswith(prefix)), KINDS)
    return kinds[zlib.crc32(label.encode()) % len(kinds)]


def _minted_token() -> str:
    logout = CREDENTIALS["logout"]
    answer = requests.post(
        f"{CREDENTIALS['url']}/api/auth-token/",
        json={"username": logout["username"], "password": logout["password"], "device_name": os.urandom(8).hex()},
        timeout=10,
    )
    answer.raise_for_status()
    return f"Token {answer.json()['token']}"


@schemathesis.auth(refresh_interval=None, retry_on=[])
class FuzzCredential:
    def get(self, case, context):
        if case.operation.path == SELF_REVOKING:
            return _minted_token()
        return CREDENTIALS["headers"][kind_for(case.operation.path, case.operation.label)]

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": data}
