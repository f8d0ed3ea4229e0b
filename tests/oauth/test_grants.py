"""Each grant through /o/token/, as a client library would use it."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, RefreshToken

from bouncer.audit.models import AuditAction, AuditEvent
from tests.conftest import make_user
from tests.oauth.conftest import (
    REDIRECT,
    TOKEN_URL,
    authorize,
    bearer,
    code_from,
    exchange,
    make_app,
    password_grant,
    password_tokens,
    pkce_pair,
    post_form,
)

pytestmark = pytest.mark.django_db


def test_password_grant_follows_tutorial_walkthrough(user, password_app):
    # Tutorial 000: form-encoded POST with client_id and client_secret in the body.
    response = Client().post(TOKEN_URL, {
        "grant_type": "password", "username": user.username, "password": "correct-horse-battery-9",
        "client_id": password_app.client_id, "client_secret": password_app.secret,
    })
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "read"
    assert body["refresh_token"] and body["expires_in"] == 3600
    profile = bearer(body["access_token"]).get("/api/accounts/profile/")
    assert profile.status_code == 200
    assert profile.json()["username"] == "alice"
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_ISSUED, user=user, method="oauth2").count() == 1


def test_password_grant_wrong_password_is_invalid_grant_and_audited(user, password_app):
    response = password_grant(password_app, user, password="wrong-password-123")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, method="oauth2").count() == 1


def test_password_grant_refused_for_application_not_registered_for_it(user, code_app):
    response = password_grant(code_app, user)
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"
    assert not AccessToken.objects.exists()


def test_password_grant_refused_for_inactive_user(password_app):
    inactive = make_user("zed", is_active=False)
    assert password_grant(password_app, inactive).status_code == 400
    assert not AccessToken.objects.exists()


def test_client_credentials_grant_issues_token_without_user(cc_app):
    response = Client().post(TOKEN_URL, {"grant_type": "client_credentials", "scope": "read"}, HTTP_AUTHORIZATION=cc_app.basic())
    assert response.status_code == 200, response.content
    body = response.json()
    assert "refresh_token" not in body
    token = AccessToken.objects.get()
    assert token.user is None and token.application == cc_app.application
    # A client acts for no user: user endpoints say 403, not 401.
    assert bearer(body["access_token"]).get("/api/accounts/profile/").status_code == 403


def test_client_credentials_with_wrong_secret_is_401_and_audited(cc_app):
    response = Client().post(TOKEN_URL, {
        "grant_type": "client_credentials", "client_id": cc_app.client_id, "client_secret": "nope",
    })
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert not AccessToken.objects.exists()
    event = AuditEvent.objects.get(action=AuditAction.CLIENT_AUTH_FAILED)
    assert event.data["client_id"] == cc_app.client_id


def test_verified_secret_is_remembered_but_a_wrong_one_never(cc_app, django_assert_max_num_queries):
    data = {"grant_type": "client_credentials"}
    assert Client().post(TOKEN_URL, data, HTTP_AUTHORIZATION=cc_app.basic()).status_code == 200
    assert Client().post(TOKEN_URL, data, HTTP_AUTHORIZATION=cc_app.basic()).status_code == 200
    cc_app.secret = cc_app.secret[:-1] + ("A" if cc_app.secret[-1] != "A" else "B")
    assert Client().post(TOKEN_URL, data, HTTP_AUTHORIZATION=cc_app.basic()).status_code == 401


def test_authorization_code_with_pkce_for_public_client(user, public_app):
    verifier, challenge = pkce_pair()
    response = authorize(user, public_app, scope="read write", challenge=challenge)
    location = response["Location"]
    assert location.startswith(REDIRECT + "?") and "state=st4te" in location and "iss=" in location
    tokens = exchange(public_app, code_from(response), verifier, confidential=False)
    assert tokens.status_code == 200, tokens.content
    assert tokens.json()["scope"] == "read write"
    assert bearer(tokens.json()["access_token"]).get("/api/accounts/profile/").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.CONSENT_GIVEN, user=user).count() == 1


def test_authorization_code_for_confidential_client_needs_its_secret(user, code_app):
    verifier, challenge = pkce_pair()
    code = code_from(authorize(user, code_app, challenge=challenge))
    assert exchange(code_app, code, verifier, confidential=False).status_code == 401
    assert exchange(code_app, code, verifier).status_code == 200


def test_skip_authorization_application_redirects_without_consent_page(user):
    app = make_app(skip_authorization=True)
    verifier, challenge = pkce_pair()
    browser = Client()
    browser.force_login(user)
    response = browser.get("/o/authorize/", {
        "response_type": "code", "client_id": app.client_id, "redirect_uri": REDIRECT, "scope": "read",
        "code_challenge": challenge, "code_challenge_method": "S256",
    })
    assert response.status_code == 302
    assert exchange(app, code_from(response), verifier).status_code == 200


def test_consent_denied_redirects_with_access_denied_and_issues_nothing(user, code_app):
    _, challenge = pkce_pair()
    browser = Client()
    browser.force_login(user)
    params = {"response_type": "code", "client_id": code_app.client_id, "redirect_uri": REDIRECT, "scope": "read",
              "code_challenge": challenge, "code_challenge_method": "S256", "state": "s"}
    assert browser.get("/o/authorize/", params).status_code == 200
    response = browser.post("/o/authorize/", params)  # no "allow"
    assert response.status_code == 302 and "error=access_denied" in response["Location"]
    assert not AuditEvent.objects.filter(action=AuditAction.CONSENT_GIVEN).exists()


def test_refresh_rotates_and_old_refresh_token_is_dead(user, password_app):
    first = password_tokens(password_app, user)
    response = Client().post(TOKEN_URL, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                             HTTP_AUTHORIZATION=password_app.basic())
    assert response.status_code == 200, response.content
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert bearer(first["access_token"]).get("/api/accounts/profile/").status_code == 401
    assert bearer(second["access_token"]).get("/api/accounts/profile/").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_REFRESHED, user=user).count() == 1


def test_refresh_token_reuse_revokes_the_family(user, password_app):
    first = password_tokens(password_app, user)
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = Client().post(TOKEN_URL, refresh, HTTP_AUTHORIZATION=password_app.basic()).json()
    # Past the grace period (10 s by default) a replay is reuse, not a second tab.
    with time_machine.travel(timezone.now() + timedelta(seconds=11)):
        replay = Client().post(TOKEN_URL, refresh, HTTP_AUTHORIZATION=password_app.basic())
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_REUSE_DETECTED, user=user).count() == 1
    # The thief's replay ends the legitimate client's session too.
    assert bearer(second["access_token"]).get("/api/accounts/profile/").status_code == 401
    again = Client().post(TOKEN_URL, {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
                          HTTP_AUTHORIZATION=password_app.basic())
    assert again.status_code == 400
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


def test_refresh_by_another_client_is_refused(user, password_app):
    tokens = password_tokens(password_app, user)
    other = make_app("password")
    response = Client().post(TOKEN_URL, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                             HTTP_AUTHORIZATION=other.basic())
    assert response.status_code == 400
    assert bearer(tokens["access_token"]).get("/api/accounts/profile/").status_code == 200


def test_tokens_are_stored_hashed_at_rest(user, password_app):
    tokens = password_tokens(password_app, user)
    row = AccessToken.objects.get()
    assert row.token == "" and tokens["access_token"] not in row.token_checksum
    assert RefreshToken.objects.get().token == ""


def test_device_authorization_flow(user):
    app = make_app("device", client_type="public")
    start = post_form("/o/device-authorization/", {"client_id": app.client_id, "scope": "read"})
    assert start.status_code == 200, start.content
    body = start.json()
    assert body["verification_uri"].endswith("/o/device/") and body["interval"] == 5
    poll = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": body["device_code"],
            "client_id": app.client_id}
    pending = post_form(TOKEN_URL, poll)
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"
    browser = Client()
    browser.force_login(user)
    entered = browser.post("/o/device/", {"user_code": body["user_code"]})
    assert entered.status_code == 302
    confirmed = browser.post(entered["Location"], {"action": "accept"})
    assert confirmed.status_code in (200, 302)
    response = post_form(TOKEN_URL, poll)
    assert response.status_code == 200, response.content
    assert bearer(response.json()["access_token"]).get("/api/accounts/profile/").json()["username"] == "alice"
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_ISSUED, data__grant_type=poll["grant_type"]).count() == 1


DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.mark.parametrize("device_code", [None, ""], ids=["absent", "empty"])
def test_device_poll_without_device_code_is_invalid_request(device_code):
    app = make_app("device", client_type="public")
    poll = {"grant_type": DEVICE_GRANT, "client_id": app.client_id}
    if device_code is not None:
        poll["device_code"] = device_code
    response = post_form(TOKEN_URL, poll)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_request" and response["Cache-Control"] == "no-store"
    assert not AccessToken.objects.exists()


def test_device_poll_with_unknown_device_code_is_invalid_grant():
    app = make_app("device", client_type="public")
    response = post_form(TOKEN_URL, {"grant_type": DEVICE_GRANT, "client_id": app.client_id, "device_code": "not-issued"})
    assert response.status_code == 400, response.content
    assert response.json() == {"error": "invalid_grant", "error_description": "Unknown device code."}
    assert not AccessToken.objects.exists()


def test_device_authorization_without_content_type_is_invalid_request():
    app = make_app("device", client_type="public")
    client = Client()
    response = client.generic("POST", f"/o/device-authorization/?client_id={app.client_id}", b"", content_type="")
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_request"
    form = post_form("/o/device-authorization/", {"client_id": app.client_id, "scope": "read"})
    assert form.status_code == 200 and "device_code" in form.json()


@pytest.mark.parametrize("response_type", ["token", "id_token", "id_token token", "code id_token", "code token"])
def test_implicit_and_hybrid_response_types_are_refused(user, code_app, response_type):
    browser = Client()
    browser.force_login(user)
    response = browser.get("/o/authorize/", {
        "response_type": response_type, "client_id": code_app.client_id, "redirect_uri": REDIRECT, "scope": "openid",
        "nonce": "n",
    })
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert "error=unsupported_response_type" in response["Location"] or "error=" in response["Location"]
        assert "access_token" not in response["Location"] and "id_token=" not in response["Location"]
    assert not AccessToken.objects.exists()
