"""OAuth2 fixtures: clients of each kind registered through the service, PKCE, helpers."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client
from oauth2_provider.models import AbstractApplication

from bouncer.oauth.clientauth import client_secrets_forget
from bouncer.oauth.services import oauth_client_create
from tests.conftest import PASSWORD

REDIRECT = "https://rp.example.com/cb"
TOKEN_URL = "/o/token/"


@pytest.fixture(autouse=True)
def _forget_verified_secrets():
    client_secrets_forget()
    yield
    client_secrets_forget()


class App:
    """An application and its one-time secret."""

    def __init__(self, application, secret):
        self.application = application
        self.client_id = application.client_id
        self.secret = secret

    def basic(self) -> str:
        raw = f"{self.client_id}:{self.secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def make_app(grant="authorization-code", client_type="confidential", **kwargs) -> App:
    grant = {
        "authorization-code": AbstractApplication.GRANT_AUTHORIZATION_CODE,
        "password": AbstractApplication.GRANT_PASSWORD,
        "client-credentials": AbstractApplication.GRANT_CLIENT_CREDENTIALS,
        "device": AbstractApplication.GRANT_DEVICE_CODE,
    }[grant]
    if grant == AbstractApplication.GRANT_AUTHORIZATION_CODE:
        kwargs.setdefault("redirect_uris", REDIRECT)
    return App(*oauth_client_create(name=f"app-{secrets.token_hex(3)}", client_type=client_type, grant_type=grant, **kwargs))


@pytest.fixture
def password_app(db) -> App:
    return make_app("password")


@pytest.fixture
def cc_app(db) -> App:
    return make_app("client-credentials")


@pytest.fixture
def code_app(db) -> App:
    return make_app("authorization-code")


@pytest.fixture
def public_app(db) -> App:
    return make_app("authorization-code", client_type="public")


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def password_grant(app: App, user, scope="read write", password=PASSWORD, **extra):
    data = {"grant_type": "password", "username": user.username, "password": password, "scope": scope, **extra}
    return Client().post(TOKEN_URL, data, HTTP_AUTHORIZATION=app.basic())


def password_tokens(app: App, user, scope="read write") -> dict:
    response = password_grant(app, user, scope=scope)
    assert response.status_code == 200, response.content
    return response.json()


def authorize(user, app: App, *, scope="read", challenge=None, method="S256", redirect_uri=REDIRECT, nonce=None, state="st4te"):
    """Signs ``user`` in, shows the consent page, allows: the redirect response."""
    browser = Client()
    browser.force_login(user)
    params = {
        "response_type": "code", "client_id": app.client_id, "redirect_uri": redirect_uri, "scope": scope, "state": state,
    }
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method=method)
    if nonce:
        params["nonce"] = nonce
    page = browser.get("/o/authorize/", params)
    if page.status_code != 200:
        return page
    form = {**params, "allow": "Authorize"}
    return browser.post("/o/authorize/", form)


def code_from(response) -> str:
    assert response.status_code == 302, response.content
    query = parse_qs(urlsplit(response["Location"]).query)
    return query["code"][0]


def exchange(app: App, code: str, verifier: str | None, *, redirect_uri=REDIRECT, confidential=True):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        data["code_verifier"] = verifier
    if confidential:
        return Client().post(TOKEN_URL, data, HTTP_AUTHORIZATION=app.basic())
    return Client().post(TOKEN_URL, {**data, "client_id": app.client_id})


def bearer(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def post_form(path: str, data: dict, client: Client | None = None, **headers):
    """A form-encoded POST, as OAuth clients send them."""
    return (client or Client()).post(path, urlencode(data), content_type="application/x-www-form-urlencoded", **headers)
