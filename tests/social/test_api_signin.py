"""POST /api/auth/<provider>/: each provider and each kind of proof, against recorded answers."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.users.models import User
from tests.social.conftest import VERIFIER, code_body, social_post
from tests.social.recorded import (
    FACEBOOK_CLIENT_ID,
    GITHUB_CLIENT_ID,
    GOOGLE_CLIENT_ID,
    SECRET,
    google_claims,
    id_token,
    oidc_claims,
)

pytestmark = pytest.mark.django_db


def profile(access: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get("/api/accounts/profile/")


# --- Google -----------------------------------------------------------------------------------


def test_google_code_with_pkce_signs_up_and_answers_a_jwt_pair(api, recorded):
    token_call = recorded.play("google", "token", body={**recorded.body("google", "token"), "id_token": id_token(google_claims(nonce=None))})

    response = social_post(api, "google", code_body())

    assert response.status_code == 200, response.content
    assert set(response.json()) == {"access", "refresh"}
    me = profile(response.json()["access"])
    assert me.status_code == 200
    assert me.json()["email"] == "grace@gmail.com"
    sent = parse_qs(token_call.calls[0].request.body)
    assert sent["code_verifier"] == [VERIFIER]
    assert sent["redirect_uri"] == ["https://app.example.com/callback"]
    assert sent["client_id"] == [GOOGLE_CLIENT_ID] and sent["client_secret"] == [SECRET]
    account = SocialAccount.objects.get()
    assert (account.provider, account.uid) == ("google", "110169484474386276334")
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED, method="social").count() == 1


def test_google_code_refused_by_google_answers_400_code_invalid(api, recorded):
    recorded.play("google", "token_invalid_grant")

    response = social_post(api, "google", code_body())

    assert response.status_code == 400
    assert response.json()["code"] == "social_code_invalid"
    assert not User.objects.exists()
    assert AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED).data["reason"] == "social_code_invalid"


def test_google_code_with_wrong_verifier_answers_400(api, recorded):
    recorded.play("google", "token_pkce_mismatch")

    response = social_post(api, "google", code_body(code_verifier="x" * 43))

    assert response.status_code == 400
    assert response.json()["code"] == "social_code_invalid"


def test_google_id_token_signs_in_and_answers_a_drf_token(api, recorded):
    recorded.google_certs()

    response = social_post(api, "google", {"id_token": id_token(google_claims()), "nonce": "n-0S6_WzA2Mj", "credential": "token", "device_name": "Pixel 9"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"token", "user_id", "username", "email", "expiry"}
    assert body["email"] == "grace@gmail.com"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert client.get("/api/accounts/profile/").status_code == 200


def test_google_id_token_nonce_as_sha256_of_the_raw_value_is_accepted(api, recorded):
    import hashlib

    recorded.google_certs()
    raw = "a-random-value-only-the-app-knows"
    token = id_token(google_claims(nonce=hashlib.sha256(raw.encode()).hexdigest()))

    assert social_post(api, "google", {"id_token": token, "nonce": raw}).status_code == 200


def test_google_access_token_of_our_app_signs_in(api, recorded):
    recorded.play("google", "tokeninfo")
    recorded.play("google", "userinfo")

    response = social_post(api, "google", {"access_token": "ya29.a0AfB_byC-recorded-access-token"})

    assert response.status_code == 200, response.content
    assert User.objects.get().email == "grace@gmail.com"


def test_google_access_token_of_another_app_answers_400_and_no_profile_is_read(api, recorded):
    info = {**recorded.body("google", "tokeninfo"), "aud": "999-other.apps.googleusercontent.com", "azp": "999-other.apps.googleusercontent.com"}
    recorded.play("google", "tokeninfo", body=info)
    userinfo = recorded.play("google", "userinfo")

    response = social_post(api, "google", {"access_token": "ya29.token-of-another-app"})

    assert response.status_code == 400
    assert response.json()["code"] == "social_token_invalid"
    assert userinfo.call_count == 0
    assert not User.objects.exists()


def test_google_access_token_unknown_to_google_answers_400(api, recorded):
    recorded.play("google", "tokeninfo_invalid")

    response = social_post(api, "google", {"access_token": "ya29.expired"})

    assert response.status_code == 400
    assert response.json()["code"] == "social_token_invalid"


def test_google_userinfo_refusing_the_token_answers_400(api, recorded):
    recorded.play("google", "tokeninfo")
    recorded.play("google", "userinfo_unauthenticated")

    response = social_post(api, "google", {"access_token": "ya29.revoked-meanwhile"})

    assert response.status_code == 400
    assert response.json()["code"] == "social_token_invalid"


# --- GitHub -----------------------------------------------------------------------------------


def test_github_code_signs_up_with_the_verified_primary_email(api, recorded):
    recorded.github_code()

    response = social_post(api, "github", code_body(), HTTP_ORIGIN="http://testserver")

    assert response.status_code == 200, response.content
    user = User.objects.get()
    assert (user.username, user.email) == ("octocat", "octocat@github.com")
    assert not user.has_usable_password()
    assert not user.is_staff and not user.is_superuser
    verified = set(user.emailaddress_set.filter(verified=True).values_list("email", flat=True))
    assert verified == {"octocat@github.com", "583231+octocat@users.noreply.github.com"}


@pytest.mark.parametrize("recording", ["token_bad_verification_code", "token_bad_verification_code_json"])
def test_github_200_with_error_body_answers_400_code_invalid(api, recorded, recording):
    recorded.play("github", recording)

    response = social_post(api, "github", code_body())

    assert response.status_code == 400
    assert response.json() == {"detail": response.json()["detail"], "code": "social_code_invalid"}
    assert not User.objects.exists()


def test_github_access_token_of_our_app_signs_in(api, recorded):
    check = recorded.play("github", "token_check")
    recorded.play("github", "user")
    recorded.play("github", "emails")

    response = social_post(api, "github", {"access_token": "gho_16C7e42F292c6912E7710c838347Ae178B4a"})

    assert response.status_code == 200, response.content
    assert check.calls[0].request.headers["Authorization"].startswith("Basic ")


def test_github_access_token_of_another_app_answers_400(api, recorded):
    recorded.play("github", "token_check_not_found")
    user_call = recorded.play("github", "user")

    response = social_post(api, "github", {"access_token": "gho_another_apps_token"})

    assert response.status_code == 400
    assert response.json()["code"] == "social_token_invalid"
    assert user_call.call_count == 0


def test_github_has_no_id_token_answers_400_unsupported(api, recorded):
    response = social_post(api, "github", {"id_token": "a.b.c", "nonce": "n"})

    assert response.status_code == 400
    assert response.json()["code"] == "social_credential_unsupported"


# --- Facebook ---------------------------------------------------------------------------------


def test_facebook_access_token_checked_with_debug_token_signs_up(api, recorded):
    recorded.facebook_token()

    response = social_post(api, "facebook", {"access_token": "EAAGm0PX4ZCpsBArecordedUserToken"})

    assert response.status_code == 200, response.content
    user = User.objects.get()
    assert user.email == "ada@example.org"
    # Facebook does not vouch for addresses: kept, but not as verified.
    assert not user.emailaddress_set.filter(verified=True).exists()
    me = recorded.requests_to("https://graph.facebook.com/v19.0/me")[0]
    assert "appsecret_proof=" in me.url


def test_facebook_token_of_another_app_answers_400(api, recorded):
    recorded.play("facebook", "app_token")
    recorded.play("facebook", "debug_token_other_app")

    response = social_post(api, "facebook", {"access_token": "EAA-other-app"})

    assert response.status_code == 400
    assert response.json()["code"] == "social_token_invalid"


def test_facebook_invalid_token_answers_400(api, recorded):
    recorded.play("facebook", "app_token")
    recorded.play("facebook", "debug_token_invalid")

    response = social_post(api, "facebook", {"access_token": "garbage"})

    assert response.status_code == 400
    assert response.json()["code"] == "social_token_invalid"


def test_facebook_code_refused_with_its_error_shape_answers_400(api, recorded):
    recorded.play("facebook", "token_bad_code")

    response = social_post(api, "facebook", code_body())

    assert response.status_code == 400
    assert response.json()["code"] == "social_code_invalid"


def test_facebook_code_signs_in_with_the_verifier_in_the_query(api, recorded):
    token = recorded.play("facebook", "token")
    recorded.play("facebook", "me")

    response = social_post(api, "facebook", code_body())

    assert response.status_code == 200, response.content
    assert SocialAccount.objects.get().uid == "10229384756102938"
    assert parse_qs(token.calls[0].request.url.split("?", 1)[1])["code_verifier"] == [VERIFIER]


def test_facebook_bad_appsecret_proof_answers_400(api, recorded):
    recorded.play("facebook", "app_token")
    recorded.play("facebook", "debug_token")
    recorded.play("facebook", "me_bad_proof")

    response = social_post(api, "facebook", {"access_token": "EAAGm0PX4ZCpsBArecordedUserToken"})

    assert response.status_code == 400
    assert response.json()["code"] == "social_token_invalid"


# --- OpenID Connect ---------------------------------------------------------------------------


def test_oidc_id_token_signs_in_by_the_apps_id(api, recorded):
    recorded.oidc()

    response = social_post(api, "idp", {"id_token": id_token(oidc_claims()), "nonce": "n-0S6_WzA2Mj"})

    assert response.status_code == 200, response.content
    assert SocialAccount.objects.get().provider == "idp"
    assert User.objects.get().username == "linus"


def test_oidc_access_token_is_not_accepted_answers_400(api, recorded):
    response = social_post(api, "idp", {"access_token": "anything"})

    assert response.status_code == 400
    assert response.json()["code"] == "social_credential_unsupported"


def test_oidc_code_signs_in_through_the_discovered_token_endpoint(api, recorded):
    recorded.oidc()
    token = recorded.mock.add(
        "POST", "https://idp.example.test/o/token/",
        json={"access_token": "at", "token_type": "Bearer", "expires_in": 36000, "scope": "openid profile email",
              "id_token": id_token(oidc_claims(nonce=None))},
    )
    recorded.mock.add("GET", "https://idp.example.test/o/userinfo/", json={"sub": "7", "email": "linus@example.net", "email_verified": True})

    response = social_post(api, "idp", code_body())

    assert response.status_code == 200, response.content
    assert parse_qs(token.calls[0].request.body)["code_verifier"] == [VERIFIER]


# --- the answer's forms -----------------------------------------------------------------------


def test_cookie_mode_sets_the_jwt_cookies_like_api_token(api, recorded):
    recorded.google_certs()

    response = social_post(api, "google", {"id_token": id_token(google_claims()), "nonce": "n-0S6_WzA2Mj", "cookie": True})

    assert response.status_code == 200
    assert set(response.json()) == {"access_expires", "refresh_expires"}
    assert settings.BOUNCER_JWT["ACCESS_COOKIE"] in response.cookies
    assert response.cookies[settings.BOUNCER_JWT["REFRESH_COOKIE"]]["httponly"]


def test_second_signin_of_a_linked_identity_reuses_the_account(api, recorded):
    recorded.google_certs()
    for _ in range(2):
        token = id_token(google_claims(nonce=None) | {"nonce": f"nonce-{_}"})
        assert social_post(api, "google", {"id_token": token, "nonce": f"nonce-{_}"}).status_code == 200

    assert User.objects.count() == 1
    assert SocialAccount.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.USER_REGISTERED).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED).count() == 2


def test_unconfigured_provider_answers_404(api, recorded, settings):
    providers = {**settings.SOCIALACCOUNT_PROVIDERS, "github": {**settings.SOCIALACCOUNT_PROVIDERS["github"], "APPS": []}}
    settings.SOCIALACCOUNT_PROVIDERS = providers

    response = social_post(api, "github", code_body())

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("name", ["twitter", "openid_connect", "password", "registration", "mfa", "x" * 300])
def test_unknown_or_reserved_provider_answers_404(api, recorded, name):
    response = social_post(api, name, code_body())

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("name", ["social", "password", "mfa"])
def test_oidc_app_named_like_a_path_of_api_auth_is_never_a_provider(api, recorded, settings, name):
    providers = settings.SOCIALACCOUNT_PROVIDERS
    app = {**providers["openid_connect"]["APPS"][0], "provider_id": name}
    settings.SOCIALACCOUNT_PROVIDERS = {**providers, "openid_connect": {**providers["openid_connect"], "APPS": [app]}}
    recorded.oidc()
    body = {"id_token": id_token(oidc_claims()), "nonce": "n-0S6_WzA2Mj"}

    response = social_post(api, name, body)

    assert response.status_code in (401, 404)  # /api/auth/social/ is the (signed-in) list
    assert not User.objects.exists()
    from bouncer.social.tokens import SocialProviderNotFound, social_provider_get

    with pytest.raises(SocialProviderNotFound):
        social_provider_get(request=None, provider_id=name)


def test_provider_unreachable_answers_502_not_500(api, recorded):
    import requests

    recorded.mock.add("POST", "https://oauth2.googleapis.com/token", body=requests.ConnectionError("refused"))

    response = social_post(api, "google", code_body())

    assert response.status_code == 502
    assert response.json()["code"] == "social_provider_unavailable"


def test_provider_answering_500_answers_502(api, recorded):
    recorded.mock.add("GET", "https://www.googleapis.com/oauth2/v1/certs", status=503, body="<html>unavailable</html>")

    response = social_post(api, "google", {"id_token": id_token(google_claims()), "nonce": "n-0S6_WzA2Mj"})

    assert response.status_code == 502
    assert response.json()["code"] == "social_provider_unavailable"


def test_cross_site_browser_post_is_refused(api, recorded):
    response = social_post(api, "google", code_body(), HTTP_ORIGIN="https://evil.example")

    assert response.status_code == 403


def test_facebook_client_id_is_the_configured_one(recorded):
    # The recorded debug_token names this app id; a test of the fixture itself.
    assert recorded.body("facebook", "debug_token")["data"]["app_id"] == FACEBOOK_CLIENT_ID
    assert recorded.body("github", "token_check")["app"]["client_id"] == GITHUB_CLIENT_ID
