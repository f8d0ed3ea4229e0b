"""OpenID Connect as a relying party sees it: discovery, JWKS, id_token, userinfo, logout."""

import jwt
import pytest
from django.test import Client
from jwt import PyJWK

from bouncer.oauth.keys import oidc_key_id
from tests.oauth.conftest import authorize, bearer, code_from, exchange, pkce_pair

pytestmark = pytest.mark.django_db

ISSUER = "http://testserver/o"


def discovery() -> dict:
    response = Client().get("/o/.well-known/openid-configuration")
    assert response.status_code == 200
    return response.json()


def test_discovery_document_advertises_what_is_accepted():
    doc = discovery()
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == f"{ISSUER}/authorize/"
    assert doc["token_endpoint"] == f"{ISSUER}/token/"
    assert doc["userinfo_endpoint"] == f"{ISSUER}/userinfo/"
    assert doc["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert doc["revocation_endpoint"] == f"{ISSUER}/revoke_token/"
    assert doc["introspection_endpoint"] == f"{ISSUER}/introspect/"
    assert doc["end_session_endpoint"] == f"{ISSUER}/logout/"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["response_types_supported"] == ["code"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "implicit" not in doc["grant_types_supported"]
    assert set(doc["scopes_supported"]) == {"read", "write", "openid", "profile", "email"}
    assert {"sub", "email", "preferred_username"} <= set(doc["claims_supported"])


def test_rfc8414_metadata_has_no_implicit_or_plain():
    doc = Client().get("/o/.well-known/oauth-authorization-server").json()
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["response_types_supported"] == ["code"]
    assert "implicit" not in doc["grant_types_supported"]


def test_jwks_publishes_rs256_keys_with_kid(settings):
    keys = Client().get("/o/.well-known/jwks.json").json()["keys"]
    current = settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"]
    assert keys[0]["kid"] == oidc_key_id(current)
    assert all(key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" for key in keys)
    assert all("d" not in key for key in keys)  # public parts only


def oidc_tokens(user, app, scope, nonce="n-0S6_WzA2Mj"):
    verifier, challenge = pkce_pair()
    code = code_from(authorize(user, app, scope=scope, challenge=challenge, nonce=nonce))
    response = exchange(app, code, verifier)
    assert response.status_code == 200, response.content
    return response.json()


def verify_id_token(raw: str, audience: str) -> dict:
    """What a relying party does: the key by kid from the JWKS, RS256 pinned."""
    header = jwt.get_unverified_header(raw)
    assert header["alg"] == "RS256" and header["kid"]
    jwks = Client().get("/o/.well-known/jwks.json").json()
    jwk = next(key for key in jwks["keys"] if key["kid"] == header["kid"])
    return jwt.decode(raw, PyJWK(jwk).key, algorithms=["RS256"], audience=audience, issuer=ISSUER)


def test_id_token_validates_against_jwks_with_nonce(user, code_app):
    tokens = oidc_tokens(user, code_app, "openid profile email")
    claims = verify_id_token(tokens["id_token"], code_app.client_id)
    assert claims["sub"] == str(user.pk)
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["email"] == "alice@example.com" and claims["preferred_username"] == "alice"


def test_tampered_id_token_fails_verification(user, code_app):
    tokens = oidc_tokens(user, code_app, "openid")
    head, body, signature = tokens["id_token"].split(".")
    forged = ".".join([head, body, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")])
    with pytest.raises(jwt.InvalidSignatureError):
        verify_id_token(forged, code_app.client_id)


@pytest.mark.parametrize("scope, present, absent", [
    ("openid", {"sub"}, {"email", "preferred_username", "name"}),
    ("openid profile", {"sub", "preferred_username", "name", "given_name"}, {"email"}),
    ("openid email", {"sub", "email", "email_verified"}, {"preferred_username"}),
])
def test_userinfo_claims_follow_scopes(user, code_app, scope, present, absent):
    tokens = oidc_tokens(user, code_app, scope)
    response = bearer(tokens["access_token"]).get("/o/userinfo/")
    assert response.status_code == 200, response.content
    claims = response.json()
    assert present <= set(claims) and not (absent & set(claims))
    id_claims = verify_id_token(tokens["id_token"], code_app.client_id)
    assert present <= set(id_claims) and not (absent & set(id_claims))


def test_userinfo_without_token_is_refused():
    assert Client().get("/o/userinfo/").status_code in (401, 403)


def test_openid_refused_for_application_without_rs256(user):
    from tests.oauth.conftest import make_app

    app = make_app(openid=False)
    _, challenge = pkce_pair()
    response = authorize(user, app, scope="openid", challenge=challenge)
    assert response.status_code == 302 and "error=invalid_scope" in response["Location"]


def test_rp_initiated_logout_with_unknown_redirect_is_json_error(user, code_app):
    tokens = oidc_tokens(user, code_app, "openid")
    browser = Client()
    browser.force_login(user)
    response = browser.get("/o/logout/", {"id_token_hint": tokens["id_token"],
                                          "post_logout_redirect_uri": "https://evil.example.com/"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")


def test_rp_initiated_logout_shows_confirmation_page(user, code_app):
    tokens = oidc_tokens(user, code_app, "openid")
    browser = Client()
    browser.force_login(user)
    response = browser.get("/o/logout/", {"id_token_hint": tokens["id_token"]})
    assert response.status_code == 200


def test_rp_initiated_logout_confirmed_signs_out_and_is_audited(user, code_app):
    from bouncer.audit.models import AuditAction, AuditEvent

    tokens = oidc_tokens(user, code_app, "openid")
    browser = Client()
    browser.force_login(user)
    response = browser.post("/o/logout/", {"allow": "on", "id_token_hint": tokens["id_token"], "client_id": code_app.client_id})
    assert response.status_code == 302
    assert "_auth_user_id" not in browser.session
    event = AuditEvent.objects.get(action=AuditAction.LOGOUT)
    assert event.user == user and event.method == "oidc" and event.data == {"client_id": code_app.client_id}


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Token abc"], ids=["none", "unknown-bearer", "other-scheme"])
def test_userinfo_refusal_is_described_in_the_schema(method, authorization):
    """The fuzzer found userinfo's 401 described in RFC 6749's shape while it answers the API's {detail, code}."""
    from tests.schema_support import assert_answer_described

    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = Client().generic(method, "/o/userinfo/", **extra)
    assert response.status_code == 401
    assert "WWW-Authenticate" in response
    assert_answer_described(response, method, "/o/userinfo/")


def test_userinfo_without_openid_scope_is_described_in_the_schema(user, code_app):
    from tests.schema_support import assert_answer_described

    tokens = oidc_tokens(user, code_app, "read")
    response = bearer(tokens["access_token"]).get("/o/userinfo/")
    assert response.status_code in (401, 403)
    assert_answer_described(response, "GET", "/o/userinfo/")
