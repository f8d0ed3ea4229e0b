"""id_tokens say how the user signed in: the amr of the browser session that authorized at /o/authorize/
travels with the code to /o/token/, and then with the refresh-token family the code started.

Verified as a relying party would, with authlib against /o/.well-known/jwks.json, through a real
authorization code flow whose session signed in with the API's second step.
"""

from __future__ import annotations

import json
import warnings
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.deprecate import AuthlibDeprecationWarning
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_refresh_token_model
from rest_framework.test import APIClient

from bouncer.oauth.models import AuthorizationAmr
from bouncer.oauth.services import oauth_purge_expired
from tests.multifactor.conftest import make_user, with_totp
from tests.multifactor.signin import mfa_signin
from tests.oauth.conftest import REDIRECT, TOKEN_URL, App, make_app, pkce_pair

with warnings.catch_warnings():  # authlib 1.x announces its move to joserfc; its jose API still works
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.jose import JsonWebKey, JsonWebToken
    from authlib.oidc.core import CodeIDToken

pytestmark = pytest.mark.django_db

ISSUER = "http://testserver/o"
NONCE = "n-0S6_WzA2Mj"
MFA_AMR = ["pwd", "otp", "mfa"]


def code_app_openid(**kwargs) -> App:
    return make_app("authorization-code", **kwargs)


def authorized_with(browser, app: App, *, scope="openid", extra: dict | None = None) -> tuple[str, str]:
    """The consent page and "allow", in ``browser``'s session: (code, PKCE verifier)."""
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code", "client_id": app.client_id, "redirect_uri": REDIRECT, "scope": scope, "state": "st4te",
        "nonce": NONCE, "code_challenge": challenge, "code_challenge_method": "S256", **(extra or {}),
    }
    page = browser.get("/o/authorize/", params)
    if page.status_code == 200:
        page = browser.post("/o/authorize/", {**params, "allow": "Authorize"})
    assert page.status_code == 302, page.content
    return parse_qs(urlsplit(page["Location"]).query)["code"][0], verifier


def exchange_code(app: App, code_and_verifier: tuple[str, str]) -> dict:
    code, verifier = code_and_verifier
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
    answer = Client().post(TOKEN_URL, data, HTTP_AUTHORIZATION=app.basic())
    assert answer.status_code == 200, answer.content
    return answer.json()


def refreshed(app: App, refresh_token: str) -> dict:
    answer = Client().post(TOKEN_URL, {"grant_type": "refresh_token", "refresh_token": refresh_token}, HTTP_AUTHORIZATION=app.basic())
    assert answer.status_code == 200, answer.content
    return answer.json()


def relying_party_verifies(tokens: dict, app: App, *, nonce: str | None = NONCE) -> dict:
    """authlib's ID Token checks: signature by kid from the JWKS (RS256 only), iss, aud, exp, iat, nonce, at_hash."""
    keys = JsonWebKey.import_key_set(Client().get("/o/.well-known/jwks.json").json())
    params = {"client_id": app.client_id, "access_token": tokens["access_token"]}
    if nonce:
        params["nonce"] = nonce
    claims = JsonWebToken(["RS256"]).decode(
        tokens["id_token"], keys, claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": ISSUER}, "aud": {"essential": True, "value": app.client_id}},
        claims_params=params,
    )
    claims.validate()
    return dict(claims)


def mfa_browser(user) -> APIClient:
    """A browser signed in through the API's second step (a TOTP code): its session's amr is pwd otp mfa."""
    browser = APIClient()
    mfa_signin(browser, user, with_totp(user), way="session")
    return browser


def password_browser(user) -> Client:
    browser = Client()
    browser.force_login(user)  # login(): the session records a password sign-in
    return browser


# --- the code exchange -------------------------------------------------------------------


def test_an_mfa_session_authorizes_an_id_token_with_amr_and_aal2():
    user, app = make_user("alice"), code_app_openid()
    tokens = exchange_code(app, authorized_with(mfa_browser(user), app, scope="openid profile"))
    claims = relying_party_verifies(tokens, app)
    assert claims["sub"] == str(user.pk) and claims["nonce"] == NONCE
    assert claims["amr"] == MFA_AMR and claims["acr"] == "aal2"


def test_a_password_session_authorizes_pwd_and_aal1():
    user, app = make_user("alice"), code_app_openid()
    claims = relying_party_verifies(exchange_code(app, authorized_with(password_browser(user), app)), app)
    assert claims["amr"] == ["pwd"] and claims["acr"] == "aal1"


def test_a_skipped_consent_page_carries_the_amr_too():
    user, app = make_user("alice"), code_app_openid(skip_authorization=True)
    browser = mfa_browser(user)
    code = authorized_with(browser, app)  # straight to the redirect, no page
    claims = relying_party_verifies(exchange_code(app, code), app)
    assert claims["amr"] == MFA_AMR and claims["acr"] == "aal2"


# --- refresh-token grants ---------------------------------------------------------------


def test_refresh_token_grants_keep_the_amr_of_their_authorization():
    user, app = make_user("alice"), code_app_openid()
    tokens = exchange_code(app, authorized_with(mfa_browser(user), app))
    for _ in range(2):
        tokens = refreshed(app, tokens["refresh_token"])
        claims = relying_party_verifies(tokens, app, nonce=None)  # no nonce on a refresh (OIDC Core 12.2)
        assert claims["amr"] == MFA_AMR and claims["acr"] == "aal2"


def test_each_authorization_keeps_its_own_amr_through_refresh():
    """A refresh of the password-only authorization never borrows the MFA one's amr (same user, same client)."""
    user, app = make_user("alice"), code_app_openid()
    strong = exchange_code(app, authorized_with(mfa_browser(user), app))
    weak = exchange_code(app, authorized_with(password_browser(user), app))
    strong, weak = refreshed(app, strong["refresh_token"]), refreshed(app, weak["refresh_token"])
    assert relying_party_verifies(strong, app, nonce=None)["amr"] == MFA_AMR
    assert relying_party_verifies(weak, app, nonce=None)["amr"] == ["pwd"]
    assert relying_party_verifies(weak, app, nonce=None)["acr"] == "aal1"


def test_a_password_grant_family_refreshes_as_pwd():
    """The password grant issues no id_token itself (oauthlib), its refreshes do: a password, only."""
    from tests.oauth.conftest import password_tokens

    user, app = make_user("alice"), make_app("password")
    tokens = password_tokens(app, user, scope="openid")
    assert "id_token" not in tokens
    claims = relying_party_verifies(refreshed(app, tokens["refresh_token"]), app, nonce=None)
    assert claims["amr"] == ["pwd"] and claims["acr"] == "aal1"


# --- what a client cannot do ----------------------------------------------------------------


def test_the_client_cannot_ask_for_its_own_amr_or_acr():
    """OpenID Connect's ``claims`` and ``acr_values`` request parameters are requests, not facts."""
    user, app = make_user("alice"), code_app_openid()
    asked = {
        "claims": json.dumps({"id_token": {"amr": {"values": MFA_AMR}, "acr": {"essential": True, "value": "aal2"}},
                              "bouncer_amr": MFA_AMR}),
        "acr_values": "aal2",
        "bouncer_amr": "pwd otp mfa",
    }
    claims = relying_party_verifies(exchange_code(app, authorized_with(password_browser(user), app, extra=asked)), app)
    assert claims["amr"] == ["pwd"] and claims["acr"] == "aal1"


def test_a_token_request_cannot_name_its_own_amr():
    """oauthlib answers any attribute its request lacks from the request's parameters: a refresh
    (or a code exchange) that sends ``bouncer_amr`` must not sign it into the id_token."""
    user, app = make_user("alice"), code_app_openid()
    tokens = exchange_code(app, authorized_with(password_browser(user), app))
    answer = Client().post(
        TOKEN_URL, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "bouncer_amr": "pwd otp mfa"},
        HTTP_AUTHORIZATION=app.basic(),
    )
    assert answer.status_code == 200, answer.content
    claims = relying_party_verifies(answer.json(), app, nonce=None)
    assert claims["amr"] == ["pwd"] and claims["acr"] == "aal1"
    code, verifier = authorized_with(password_browser(user), app)
    answer = Client().post(
        TOKEN_URL, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier,
                    "bouncer_amr": "pwd otp mfa"},
        HTTP_AUTHORIZATION=app.basic(),
    )
    assert relying_party_verifies(answer.json(), app)["amr"] == ["pwd"]


def test_userinfo_describes_the_user_not_the_sign_in():
    user, app = make_user("alice"), code_app_openid()
    tokens = exchange_code(app, authorized_with(mfa_browser(user), app, scope="openid profile"))
    info = Client(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").get("/o/userinfo/").json()
    assert info["sub"] == str(user.pk) and "amr" not in info and "acr" not in info


def test_discovery_lists_the_claims():
    doc = Client().get("/o/.well-known/openid-configuration").json()
    assert {"amr", "acr"} <= set(doc["claims_supported"])


# --- the rows stay bounded -----------------------------------------------------------------


def test_a_code_never_redeemed_leaves_its_row_until_it_expires():
    user, app = make_user("alice"), code_app_openid()
    authorized_with(password_browser(user), app)
    assert AuthorizationAmr.objects.filter(code_digest__isnull=False).count() == 1
    oauth_purge_expired(force=True)
    assert AuthorizationAmr.objects.count() == 1
    AuthorizationAmr.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    oauth_purge_expired(force=True)
    assert not AuthorizationAmr.objects.exists()


def test_a_redeemed_code_row_follows_its_refresh_tokens():
    user, app = make_user("alice"), code_app_openid()
    tokens = exchange_code(app, authorized_with(mfa_browser(user), app))
    row = AuthorizationAmr.objects.get()
    family = get_refresh_token_model().objects.get().token_family
    assert row.code_digest is None and row.token_family == family and row.amr == "pwd otp mfa"
    refreshed(app, tokens["refresh_token"])
    oauth_purge_expired(force=True)
    assert AuthorizationAmr.objects.filter(token_family=family).exists()  # the family lives on
    get_refresh_token_model().objects.all().delete()
    oauth_purge_expired(force=True)
    assert not AuthorizationAmr.objects.exists()
