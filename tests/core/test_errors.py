"""Every error under /api/ is JSON, whatever raised it."""

from unittest import mock

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("debug", [True, False])
def test_unknown_api_path_is_404_json(client, debug):
    with override_settings(DEBUG=debug):
        response = client.get("/api/does-not-exist/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_unknown_non_api_path_keeps_html(client):
    response = client.get("/nowhere/")
    assert response.status_code == 404
    assert "json" not in response["Content-Type"]


def test_wrong_method_is_405_json(client):
    response = client.delete("/api/accounts/register/")
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "DELETE" not allowed.', "code": "method_not_allowed"}


def test_drf_own_errors_carry_a_code_like_every_other_error(user):
    """DRF's NotFound (a page past the end), 405 and the like come in the one
    {"detail", "code"} shape too, not a bare detail."""
    from tests.conftest import token_client

    client = token_client(user)
    past_the_end = client.get("/api/accounts/sessions/", {"page": 999})
    assert past_the_end.status_code == 404
    assert past_the_end.json() == {"detail": "Invalid page.", "code": "not_found"}
    throttled_shape = client.put("/api/accounts/profile/", {}, format="json")
    assert throttled_shape.status_code == 405 and throttled_shape.json()["code"] == "method_not_allowed"


def test_unhandled_exception_is_500_json_without_traceback(user):
    from tests.conftest import token_client

    client = token_client(user)
    client.raise_request_exception = False
    from bouncer.users import api

    with mock.patch.object(api.PROFILE_OUTPUT, "to_representation", side_effect=RuntimeError("kaboom-secret")):
        response = client.get("/api/accounts/profile/")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error.", "code": "server_error"}
    assert "kaboom" not in response.content.decode()


def test_disallowed_host_is_400_json(client):
    response = client.get("/api/accounts/profile/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"



@pytest.mark.parametrize(
    "accept, query",
    [
        (None, ""), ("*/*", ""), ("application/json", ""), ("", ""),
        ("application/json; q=0.9, */*; q=0.1", ""), ("application/json; indent=4", ""),
        ("text/html", ""), ("text/html", "?format=json"), ("*/*", "?format=xml"), ("application/xml", ""),
    ],
)
def test_content_negotiation_answers_like_drf(user, accept, query):
    """The fast path (one renderer, an Accept that takes JSON) changes no answer: 406 stays 406."""
    from django.conf import settings

    from tests.conftest import token_client

    client = token_client(user)
    headers = {"HTTP_ACCEPT": accept} if accept is not None else {}
    ours = client.get(f"/api/accounts/profile/{query}", **headers)
    stock = {**settings.REST_FRAMEWORK, "DEFAULT_CONTENT_NEGOTIATION_CLASS": "rest_framework.negotiation.DefaultContentNegotiation"}
    with override_settings(REST_FRAMEWORK=stock):
        drf = client.get(f"/api/accounts/profile/{query}", **headers)
    assert (ours.status_code, ours.get("Content-Type")) == (drf.status_code, drf.get("Content-Type"))
    if accept in (None, "*/*", "application/json") and not query:
        assert ours.status_code == 200
    if accept == "text/html" and not query:
        assert ours.status_code == 406


# --- one shape for every 401 (issue 8, structure) -----------------------------

def _tampered_jwt(user) -> str:
    from rest_framework.test import APIClient

    from tests.conftest import PASSWORD

    access = APIClient().post("/api/token/", {"username": user.username, "password": PASSWORD}, format="json").json()["access"]
    head, payload, signature = access.split(".")
    return f"{head}.{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"


BAD_CREDENTIALS = {
    "jwt": lambda user: f"Bearer {_tampered_jwt(user)}",
    "oauth2": lambda user: "Bearer not-a-known-oauth-token",
    "token": lambda user: "Token not-a-known-token",
    "token_header": lambda user: "Token two parts",
    "basic": lambda user: "Basic " + __import__("base64").b64encode(b"alice:wrong-password").decode(),
}


@pytest.mark.parametrize("kind", sorted(BAD_CREDENTIALS))
def test_bad_credential_of_any_kind_is_401_detail_and_code_with_challenge(user, kind):
    from rest_framework.test import APIClient

    response = APIClient().get("/api/accounts/profile/", HTTP_AUTHORIZATION=BAD_CREDENTIALS[kind](user))
    assert response.status_code == 401, response.content
    body = response.json()
    assert set(body) == {"detail", "code"}, body
    assert isinstance(body["detail"], str) and body["code"].isidentifier()
    assert response["WWW-Authenticate"].startswith('Bearer realm="bouncer"')


def test_missing_credentials_keep_specs_exact_body(api):
    response = api.get("/api/accounts/profile/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == 'Bearer realm="bouncer"'


@pytest.mark.parametrize("url, field", [("/api/token/refresh/", "refresh"), ("/api/token/verify/", "token"), ("/api/token/blacklist/", "refresh")])
def test_jwt_rejection_is_401_with_bearer_invalid_token_challenge(api, user, url, field):
    response = api.post(url, {field: _tampered_jwt(user)}, format="json")
    assert response.status_code == 401, response.content
    assert set(response.json()) == {"detail", "code"}
    assert response["WWW-Authenticate"] == 'Bearer realm="bouncer", error="invalid_token"'


def test_oauth_protocol_errors_stay_rfc_6749_shaped(db):
    from django.test import Client

    response = Client().post("/o/token/", {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "detail" not in response.json()


def test_failed_session_login_keeps_specs_body(api, user):
    response = api.post("/api/accounts/login/", {"username": "alice", "password": "wrong-password-1"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid credentials"}
