"""Responses that carry a credential or the profile are never stored by a cache (hole 4.8)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, session_client, token_client

pytestmark = pytest.mark.django_db

CREDENTIALS = {"username": "alice", "password": PASSWORD}


def jwt_pair(cookie: bool = False):
    client = APIClient()
    response = client.post("/api/token/", {**CREDENTIALS, "cookie": cookie}, format="json")
    assert response.status_code == 200, response.content
    return client, response


def session_login():
    return APIClient().post("/api/accounts/login/", CREDENTIALS, format="json")


def token_login():
    return APIClient().post("/api/auth-token/", CREDENTIALS, format="json")


def jwt_obtain_body():
    return jwt_pair()[1]


def jwt_obtain_cookie():
    return jwt_pair(cookie=True)[1]


def jwt_refresh_body():
    client, pair = jwt_pair()
    return client.post("/api/token/refresh/", {"refresh": pair.json()["refresh"]}, format="json")


def jwt_refresh_cookie():
    client, _ = jwt_pair(cookie=True)
    return client.post("/api/token/refresh/", {}, format="json")


def profile_get(user):
    return token_client(user).get("/api/accounts/profile/")


def profile_patch(user):
    return token_client(user).patch("/api/accounts/profile/", {"first_name": "Al"}, format="json")


def profile_get_session(user):
    return session_client(user).get("/api/accounts/profile/")


def register():
    body = {"username": "newbie", "email": "newbie@example.com", "password": "another-pass-77"}
    return APIClient().post("/api/accounts/register/", body, format="json")


def csrf_cookie():
    return APIClient().get("/api/accounts/csrf/")


def oauth_password_grant(user):
    from bouncer.oauth.services import oauth_client_create

    app, secret = oauth_client_create(name="nostore", client_type="confidential", grant_type="password")
    body = {**CREDENTIALS, "grant_type": "password", "scope": "read", "client_id": app.client_id, "client_secret": secret}
    return APIClient().post("/o/token/", body)


def html_sign_in():
    return APIClient().post("/accounts/login/", CREDENTIALS)


CALLS = {
    "session_login": lambda user: session_login(),
    "token_login": lambda user: token_login(),
    "jwt_obtain_body": lambda user: jwt_obtain_body(),
    "jwt_obtain_cookie": lambda user: jwt_obtain_cookie(),
    "jwt_refresh_body": lambda user: jwt_refresh_body(),
    "jwt_refresh_cookie": lambda user: jwt_refresh_cookie(),
    "profile_get_token": profile_get,
    "profile_get_session": profile_get_session,
    "profile_patch": profile_patch,
    "register": lambda user: register(),
    "csrf_cookie": lambda user: csrf_cookie(),
    "oauth_token": oauth_password_grant,
    "html_sign_in": lambda user: html_sign_in(),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_credential_or_profile_response_is_no_store(user, name):
    response = CALLS[name](user)
    assert response.status_code in (200, 201, 302), response.content
    assert "no-store" in response.get("Cache-Control", ""), dict(response.items())


def test_api_error_answer_is_no_store(api):
    response = api.get("/api/accounts/profile/")
    assert response.status_code == 401
    assert "no-store" in response["Cache-Control"]


def test_public_jwks_stays_cacheable(api):
    response = api.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert "no-store" not in response["Cache-Control"] and "max-age=300" in response["Cache-Control"]
