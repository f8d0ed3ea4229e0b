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


def kind_for(label: str) -> str:
    """The credential kind of an operation: stable for a label, spread over the three kinds."""
    return KINDS[zlib.crc32(label.encode()) % len(KINDS)]


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
        return CREDENTIALS["headers"][kind_for(case.operation.label)]

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": data}
