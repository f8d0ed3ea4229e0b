"""Credentials of every kind, signed in through the real API: with a second factor, or the password only.

An MFA-verified credential is made the way a client makes one: the first
step (``/api/accounts/login/``, ``/api/auth-token/`` or ``/api/token/``)
answers 401 ``mfa_required``, and ``/api/auth/mfa/authenticate/`` with the
``mfa_token`` and a pyotp code completes it. A code is accepted once per
TOTP step (bouncer/multifactor/totp.py): a test that signs one user in with
a second factor twice moves time forward in between (``next_step``).
"""

from __future__ import annotations

import time

import pyotp
import time_machine
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, basic_client, oauth2_client

FIRST_STEP = {
    "session": ("/api/accounts/login/", {}),
    "token": ("/api/auth-token/", {"device_name": "phone"}),
    "jwt": ("/api/token/", {}),
}
AUTHENTICATE = "/api/auth/mfa/authenticate/"


def mfa_signin(client: APIClient, user, app: pyotp.TOTP, *, way: str):
    """The first step, then the second with a TOTP code: the answer of ``authenticate/`` (200)."""
    url, extra = FIRST_STEP[way]
    first = client.post(url, {"username": user.username, "password": PASSWORD, **extra}, format="json")
    assert first.status_code == 401 and first.json()["code"] == "mfa_required", first.content
    done = client.post(AUTHENTICATE, {"mfa_token": first.json()["mfa_token"], "code": app.now()}, format="json")
    assert done.status_code == 200, done.content
    return done


def password_signin(client: APIClient, user, *, way: str):
    """The password alone (a user without a factor): the first step's 200."""
    url, extra = FIRST_STEP[way]
    done = client.post(url, {"username": user.username, "password": PASSWORD, **extra}, format="json")
    assert done.status_code == 200, done.content
    return done


def credential_client(user, *, kind: str, app: pyotp.TOTP | None = None) -> APIClient:
    """A client holding one credential of ``kind`` for ``user``: through the second step when ``app`` is given.

    ``basic`` and ``oauth2`` (password grant) cannot carry a second step:
    for them ``app`` must be None.
    """
    if kind == "basic":
        assert app is None
        return basic_client(user)
    if kind == "oauth2":
        assert app is None
        return oauth2_client(user)
    client = APIClient(enforce_csrf_checks=True)
    answer = mfa_signin(client, user, app, way=kind) if app is not None else password_signin(client, user, way=kind)
    if kind == "token":
        client.credentials(HTTP_AUTHORIZATION=f"Token {answer.json()['token']}")
    elif kind == "jwt":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {answer.json()['access']}")
    return client


def next_step():
    """Travel past the current TOTP step, so the user's next code is a new one."""
    return time_machine.travel(time.time() + 30, tick=True)
