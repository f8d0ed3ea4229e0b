"""Signing in through the real endpoints, and enrolling factors through the management API."""

from __future__ import annotations

import pyotp
from django.conf import settings
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

MFA = "/api/auth/mfa/"
ORIGIN = "http://localhost:8000"
#: The credentials that manage factors: a session, a DRF token, a JWT.
WAYS = ("session", "token", "jwt")
FIRST_STEPS = {
    "session": ("/api/accounts/login/", {}),
    "token": ("/api/auth-token/", {"device_name": "laptop"}),
    "jwt": ("/api/token/", {}),
}


def first_step(way: str, user, client: APIClient | None = None):
    client = client or APIClient(enforce_csrf_checks=True)
    url, extra = FIRST_STEPS[way]
    return client, client.post(url, {"username": user.username, "password": PASSWORD, **extra}, format="json")


def credentialed(client: APIClient, way: str, response) -> APIClient:
    """Send what a sign-in answered with every later request (CSRF header for a session)."""
    assert response.status_code == 200, response.content
    if way == "session":
        client.credentials(HTTP_X_CSRFTOKEN=client.cookies[settings.CSRF_COOKIE_NAME].value)
    elif way == "token":
        client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    else:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


def sign_in(way: str, user, *, code: str | None = None) -> APIClient:
    """A client signed in as ``user`` with ``way``; ``code`` answers the second step if one is asked."""
    client, response = first_step(way, user)
    if response.status_code == 401 and code is not None:
        response = client.post(f"{MFA}authenticate/", {"mfa_token": response.json()["mfa_token"], "code": code}, format="json")
    return credentialed(client, way, response)


def enrol_totp(client: APIClient, **extra) -> tuple[pyotp.TOTP, dict]:
    """An authenticator app set up through the API: (the app, the confirm answer)."""
    begun = client.post(f"{MFA}totp/", extra, format="json")
    assert begun.status_code == 200, begun.content
    app = pyotp.TOTP(begun.json()["secret"])
    done = client.post(f"{MFA}totp/confirm/", {"setup_id": begun.json()["setup_id"], "code": app.now(), **extra}, format="json")
    assert done.status_code == 201, done.content
    return app, done.json()


def enrol_key(client: APIClient, key, *, name: str = "Yubikey", passwordless: bool = False, **extra) -> dict:
    """A security key (a SoftKey) registered through the API: the register answer."""
    begun = client.post(f"{MFA}webauthn/register/begin/", {"passwordless": passwordless, **extra}, format="json")
    assert begun.status_code == 200, begun.content
    credential = key.create(begun.json()["options"], ORIGIN, resident=passwordless)
    done = client.post(
        f"{MFA}webauthn/register/",
        {"registration_id": begun.json()["registration_id"], "credential": credential, "name": name, **extra},
        format="json",
    )
    assert done.status_code == 201, done.content
    return done.json()


def step_up(client: APIClient, code: str):
    return client.post(f"{MFA}step-up/", {"code": code}, format="json")


def step_up_with_key(client: APIClient, key):
    begun = client.post(f"{MFA}step-up/webauthn/begin/", format="json")
    assert begun.status_code == 200, begun.content
    body = begun.json()
    return client.post(f"{MFA}step-up/", {"step_up_id": body["step_up_id"], "credential": key.get(body["options"], ORIGIN)}, format="json")


def factors(client: APIClient) -> list[dict]:
    response = client.get(f"{MFA}factors/")
    assert response.status_code == 200, response.content
    return response.json()
