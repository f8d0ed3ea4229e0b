"""OAuth2 / OpenID Connect against a real server, with authlib as the client.

Clients are registered with ``manage.py oauth_create_client`` against the
server's database, as an operator would. The authorization-code flows go
through Bouncer's HTML sign-in and consent pages, driven with ``requests``
like a browser without JavaScript: GET the page, read the CSRF token and the
hidden fields, POST the form.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import jwt
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from tests.e2e import oauth_support as pages
from tests.e2e.oauth_support import Forms, authlib_over_http, create_client, hidden_fields, manage  # noqa: F401

pytestmark = pytest.mark.e2e

REDIRECT = "https://rp.example.com/callback"
PASSWORD = "oauth-e2e-pass-81"
USERNAME = "oauth-e2e"


# --- helpers -----------------------------------------------------------------------


def sign_in_page(browser: requests.Session, login_url: str, username: str = USERNAME, password: str = PASSWORD):
    return pages.sign_in_page(browser, login_url, username=username, password=password)


def consent_page(browser: requests.Session, base: str, authorize_url: str) -> requests.Response:
    return pages.consent_page(browser, base, authorize_url, username=USERNAME, password=PASSWORD)


answer_consent = pages.answer_consent


def query_of(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# --- fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(live_server_url, live_server_env):
    """The server with one user and one client of each kind, registered by the command."""
    env = live_server_env
    manage(env, "shell", "-v", "0", "-c",
           "from bouncer.users.models import User; "
           f"User.objects.create_user('{USERNAME}', 'oauth-e2e@example.com', '{PASSWORD}', first_name='Olive')")
    clients = {
        "portal": create_client(env, "Partner Portal", "--type", "confidential", "--grant", "authorization-code",
                                "--redirect-uri", REDIRECT),
        "mobile": create_client(env, "Mobile App", "--type", "public", "--grant", "authorization-code",
                                "--redirect-uri", REDIRECT),
        "service": create_client(env, "Reporting Service", "--type", "confidential", "--grant", "client-credentials"),
        "tutorial": create_client(env, "MyAppClient", "--type", "confidential", "--grant", "password"),
    }
    assert clients["portal"][1] and clients["mobile"][1] is None  # a public client gets no secret
    return {"url": live_server_url, "clients": clients}


@pytest.fixture(scope="module")
def discovery(server) -> dict:
    response = requests.get(f"{server['url']}/o/.well-known/openid-configuration", timeout=10)
    assert response.status_code == 200
    return response.json()


@pytest.fixture(scope="module")
def browser(server) -> requests.Session:
    """A browser session signed in through the HTML sign-in page."""
    session = requests.Session()
    response = sign_in_page(session, f"{server['url']}/accounts/login/?next=/o/authorized_tokens/")
    assert response.status_code == 302 and response.headers["Location"] == "/o/authorized_tokens/"
    return session


def portal_session(server, **kwargs) -> OAuth2Session:
    client_id, secret = server["clients"]["portal"]
    return OAuth2Session(client_id, secret, redirect_uri=REDIRECT, code_challenge_method="S256", **kwargs)


def authorize_code(server, browser, client: OAuth2Session, *, scope: str, nonce: str | None = None):
    """Run the pages; (callback URL, verifier, state)."""
    verifier = generate_token(48)
    extra = {"nonce": nonce} if nonce else {}
    url, state = client.create_authorization_url(f"{server['url']}/o/authorize/", code_verifier=verifier, scope=scope, **extra)
    callback = answer_consent(browser, consent_page(browser, server["url"], url), allow=True).headers["Location"]
    assert callback.startswith(REDIRECT + "?")
    return callback, verifier, state


def password_token(server, scope: str) -> dict:
    client_id, secret = server["clients"]["tutorial"]
    client = OAuth2Session(client_id, secret, scope=scope)
    return client.fetch_token(f"{server['url']}/o/token/", grant_type="password", username=USERNAME, password=PASSWORD)


# --- authorization code + PKCE through the pages ------------------------------------


def test_authorization_code_with_pkce_through_sign_in_and_consent_pages(server, discovery):
    base = server["url"]
    client = portal_session(server, scope="openid profile email read")
    verifier = generate_token(48)
    nonce = secrets.token_urlsafe(16)
    url, state = client.create_authorization_url(f"{base}/o/authorize/", code_verifier=verifier, nonce=nonce)
    browser = requests.Session()

    # Signed out: Bouncer's own sign-in page, with the authorization request as next.
    first = browser.get(url, allow_redirects=False, timeout=10)
    assert first.status_code == 302
    location = first.headers["Location"]
    assert location.startswith("/accounts/login/?next=/o/authorize/")
    signed_in = sign_in_page(browser, urljoin(base, location))
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"].startswith("/o/authorize/?")
    assert "HttpOnly" in signed_in.headers["Set-Cookie"]

    # The consent page names the application and the requested scopes.
    page = browser.get(urljoin(base, signed_in.headers["Location"]), timeout=10)
    assert page.status_code == 200
    assert "Partner Portal" in page.text
    for description in ("Sign you in (OpenID Connect)", "See your name and username", "See your email address", "Read your data"):
        assert description in page.text
    callback = answer_consent(browser, page, allow=True).headers["Location"]

    query = query_of(callback)
    assert callback.startswith(REDIRECT + "?") and query["state"] == state
    assert query["iss"] == discovery["issuer"]  # RFC 9207
    token = client.fetch_token(f"{base}/o/token/", authorization_response=callback, code_verifier=verifier)
    assert token["token_type"] == "Bearer" and set(token["scope"].split()) == {"openid", "profile", "email", "read"}
    assert token["refresh_token"] and token["id_token"]

    # The id_token, validated from the JWKS: RS256, kid, iss, aud, nonce.
    header = jwt.get_unverified_header(token["id_token"])
    assert header["alg"] == "RS256" and header["kid"]
    keys = requests.get(discovery["jwks_uri"], timeout=10).json()["keys"]
    assert header["kid"] in {key["kid"] for key in keys}
    signing_key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token["id_token"])
    claims = jwt.decode(token["id_token"], signing_key.key, algorithms=["RS256"], audience=client.client_id,
                        issuer=discovery["issuer"], options={"require": ["exp", "iat", "sub", "aud", "iss"]})
    assert claims["nonce"] == nonce
    # A token signed with another key, or for another audience, is refused.
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token["id_token"], signing_key.key, algorithms=["RS256"], audience="someone-else", issuer=discovery["issuer"])

    # userinfo: claims by scope.
    info = client.get(discovery["userinfo_endpoint"], timeout=10)
    assert info.status_code == 200
    assert info.json()["sub"] == claims["sub"]
    assert info.json()["email"] == "oauth-e2e@example.com" and info.json()["preferred_username"] == USERNAME

    # The access token works on the API (read scope).
    profile = client.get(f"{base}/api/accounts/profile/", timeout=10)
    assert profile.status_code == 200 and profile.json()["username"] == USERNAME


def test_public_client_pkce_flow(server, browser):
    client_id, _ = server["clients"]["mobile"]
    client = OAuth2Session(client_id, redirect_uri=REDIRECT, code_challenge_method="S256", token_endpoint_auth_method="none")
    callback, verifier, _ = authorize_code(server, browser, client, scope="read")
    token = client.fetch_token(f"{server['url']}/o/token/", authorization_response=callback, code_verifier=verifier)
    assert token["scope"] == "read"
    assert client.get(f"{server['url']}/api/accounts/profile/", timeout=10).status_code == 200


def test_deny_returns_access_denied(server, browser):
    client = portal_session(server, scope="read")
    url, state = client.create_authorization_url(f"{server['url']}/o/authorize/", code_verifier=generate_token(48))
    denied = answer_consent(browser, consent_page(browser, server["url"], url), allow=False)
    query = query_of(denied.headers["Location"])
    assert denied.headers["Location"].startswith(REDIRECT + "?")
    assert query["error"] == "access_denied" and query["state"] == state and "code" not in query


# --- refresh, revoke, introspect ---------------------------------------------------------


def test_refresh_rotates_and_a_replayed_refresh_token_revokes_the_family(server, browser):
    base = server["url"]
    client = portal_session(server, scope="read")
    callback, verifier, _ = authorize_code(server, browser, client, scope="read")
    first = client.fetch_token(f"{base}/o/token/", authorization_response=callback, code_verifier=verifier)

    second = client.refresh_token(f"{base}/o/token/", refresh_token=first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert requests.get(f"{base}/api/accounts/profile/", headers=bearer(second["access_token"]), timeout=10).status_code == 200

    # The server runs with BOUNCER_OAUTH_REFRESH_GRACE_SECONDS=0 (tests/e2e/conftest.py):
    # replaying the rotated refresh token is reuse, and ends the whole family.
    client_id, secret = server["clients"]["portal"]
    replay = requests.post(f"{base}/o/token/", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                           auth=(client_id, secret), timeout=10)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert requests.get(f"{base}/api/accounts/profile/", headers=bearer(second["access_token"]), timeout=10).status_code == 401
    again = requests.post(f"{base}/o/token/", data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
                          auth=(client_id, secret), timeout=10)
    assert again.status_code == 400


def test_revoke_and_introspect(server, browser, discovery):
    base = server["url"]
    client_id, secret = server["clients"]["portal"]
    client = portal_session(server, scope="read")
    callback, verifier, _ = authorize_code(server, browser, client, scope="read")
    token = client.fetch_token(f"{base}/o/token/", authorization_response=callback, code_verifier=verifier)

    # Introspection needs an authenticated client.
    anonymous = requests.post(discovery["introspection_endpoint"], data={"token": token["access_token"]}, timeout=10)
    assert anonymous.status_code == 401
    wrong_secret = requests.post(discovery["introspection_endpoint"], data={"token": token["access_token"]},
                                 auth=(client_id, "not-the-secret"), timeout=10)
    assert wrong_secret.status_code == 401
    active = requests.post(discovery["introspection_endpoint"], data={"token": token["access_token"]},
                           auth=(client_id, secret), timeout=10)
    assert active.status_code == 200
    body = active.json()
    assert body["active"] is True and body["scope"] == "read" and body["client_id"] == client_id
    assert body.get("username") == USERNAME

    revoked = client.revoke_token(discovery["revocation_endpoint"], token=token["access_token"], token_type_hint="access_token")
    assert revoked.status_code == 200
    assert requests.get(f"{base}/api/accounts/profile/", headers=bearer(token["access_token"]), timeout=10).status_code == 401
    inactive = requests.post(discovery["introspection_endpoint"], data={"token": token["access_token"]},
                             auth=(client_id, secret), timeout=10)
    assert inactive.status_code == 200 and inactive.json() == {"active": False}
    # Revoking the access token ends its refresh token too.
    refresh = requests.post(f"{base}/o/token/", data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
                            auth=(client_id, secret), timeout=10)
    assert refresh.status_code == 400


def test_revoking_another_clients_token_has_no_effect(server):
    base = server["url"]
    token = password_token(server, "read")
    other_id, other_secret = server["clients"]["service"]
    response = requests.post(f"{base}/o/revoke_token/", data={"token": token["access_token"]},
                             auth=(other_id, other_secret), timeout=10)
    assert response.status_code in (200, 400)
    assert requests.get(f"{base}/api/accounts/profile/", headers=bearer(token["access_token"]), timeout=10).status_code == 200
    response = requests.post(f"{base}/o/revoke_token/", data={"token": token["refresh_token"], "token_type_hint": "refresh_token"},
                             auth=(other_id, other_secret), timeout=10)
    assert response.status_code in (200, 400)
    client_id, secret = server["clients"]["tutorial"]
    refreshed = requests.post(f"{base}/o/token/", data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
                              auth=(client_id, secret), timeout=10)
    assert refreshed.status_code == 200


# --- client credentials and the tutorial's password grant ----------------------------------


def test_client_credentials(server, discovery):
    base = server["url"]
    client_id, secret = server["clients"]["service"]
    client = OAuth2Session(client_id, secret, scope="read")
    token = client.fetch_token(f"{base}/o/token/", grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and token["scope"] == "read" and "refresh_token" not in token
    body = requests.post(discovery["introspection_endpoint"], data={"token": token["access_token"]},
                         auth=(client_id, secret), timeout=10).json()
    assert body["active"] is True and body["client_id"] == client_id and not body.get("username")
    # No user behind the token: the user endpoints are not for it.
    assert client.get(f"{base}/api/accounts/profile/", timeout=10).status_code in (401, 403)
    # A wrong secret is refused.
    bad = requests.post(f"{base}/o/token/", data={"grant_type": "client_credentials"}, auth=(client_id, "nope"), timeout=10)
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"


def test_tutorial_password_grant_walkthrough(server):
    """Tutorial 000, steps 5 and 6, with the tutorial's own curl body (client credentials in the form)."""
    base = server["url"]
    client_id, secret = server["clients"]["tutorial"]
    response = requests.post(
        f"{base}/o/token/",
        data={"grant_type": "password", "username": USERNAME, "password": PASSWORD, "client_id": client_id,
              "client_secret": secret},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    token = response.json()
    assert {"access_token", "expires_in", "token_type", "scope", "refresh_token"} <= set(token)
    assert token["token_type"] == "Bearer"
    # The tutorial shows "read write"; Bouncer grants only `read` unless write is asked for.
    assert token["scope"] == "read"
    profile = requests.get(f"{base}/api/accounts/profile/", headers=bearer(token["access_token"]), timeout=10)
    assert profile.status_code == 200 and profile.json()["username"] == USERNAME
    # A wrong password is the generic RFC 6749 error.
    wrong = requests.post(f"{base}/o/token/", data={"grant_type": "password", "username": USERNAME, "password": "nope",
                                                    "client_id": client_id, "client_secret": secret}, timeout=10)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    # The password grant is only for applications registered with it.
    portal_id, portal_secret = server["clients"]["portal"]
    refused = requests.post(f"{base}/o/token/", data={"grant_type": "password", "username": USERNAME, "password": PASSWORD},
                            auth=(portal_id, portal_secret), timeout=10)
    assert refused.status_code in (400, 401) and refused.json()["error"] in ("unauthorized_client", "invalid_grant")


# --- what must fail -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example.com/callback",
        "https://rp.example.com/callback/../../evil",
        "https://rp.example.com/callback/..%2F..%2Fevil",
        "https://rp.example.com/callback/%2e%2e/evil",
        "https://rp.example.com/callbackx",
        "https://rp.example.com/callback?next=https://evil.example.com/",
        "https://rp.example.com.evil.example.com/callback",
        "https://rp.example.com@evil.example.com/callback",
        "http://rp.example.com/callback",
    ],
    ids=["other-host", "dot-dot", "encoded-dot-dot", "encoded-dots", "suffix", "extra-query", "host-suffix", "userinfo", "http"],
)
def test_redirect_uri_mismatch_and_traversal_never_redirect(server, browser, redirect_uri):
    client = portal_session(server, scope="read")
    url, _ = client.create_authorization_url(f"{server['url']}/o/authorize/", code_verifier=generate_token(48),
                                             redirect_uri=redirect_uri)
    response = browser.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 400, (response.status_code, response.headers.get("Location"))
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"] in ("invalid_request", "invalid_redirect_uri", "mismatching_redirect_uri")


def test_code_exchange_with_another_redirect_uri_is_refused(server, browser):
    client = portal_session(server, scope="read")
    callback, verifier, _ = authorize_code(server, browser, client, scope="read")
    client_id, secret = server["clients"]["portal"]
    response = requests.post(f"{server['url']}/o/token/", data={
        "grant_type": "authorization_code", "code": query_of(callback)["code"], "redirect_uri": REDIRECT + "/../x",
        "code_verifier": verifier}, auth=(client_id, secret), timeout=10)
    assert response.status_code == 400 and "access_token" not in response.text


def test_authorization_without_pkce_is_refused(server, browser):
    client_id, _ = server["clients"]["portal"]
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": "read", "state": "s"}
    response = browser.get(f"{server['url']}/o/authorize/?{urlencode(params)}", allow_redirects=False, timeout=10)
    assert response.status_code == 302
    query = query_of(response.headers["Location"])
    assert response.headers["Location"].startswith(REDIRECT) and query["error"] == "invalid_request" and "code" not in query
    # plain is not accepted either: S256 only.
    plain = {**params, "code_challenge": generate_token(48), "code_challenge_method": "plain"}
    response = browser.get(f"{server['url']}/o/authorize/?{urlencode(plain)}", allow_redirects=False, timeout=10)
    if response.status_code == 200:  # the toolkit checks the method only when the code is created
        response = answer_consent(browser, response, allow=True)
    assert response.status_code in (302, 400)
    assert "code=" not in response.headers.get("Location", "")


@pytest.mark.parametrize("verifier", [None, "wrong-" + "v" * 50], ids=["missing", "wrong"])
def test_code_exchange_without_the_right_verifier_is_refused(server, browser, verifier):
    client = portal_session(server, scope="read")
    callback, _, _ = authorize_code(server, browser, client, scope="read")
    client_id, secret = server["clients"]["portal"]
    data = {"grant_type": "authorization_code", "code": query_of(callback)["code"], "redirect_uri": REDIRECT}
    if verifier:
        data["code_verifier"] = verifier
    response = requests.post(f"{server['url']}/o/token/", data=data, auth=(client_id, secret), timeout=10)
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_request", "invalid_grant")


def test_code_replay_fails_and_revokes_the_first_tokens(server, browser):
    base = server["url"]
    client = portal_session(server, scope="read")
    callback, verifier, _ = authorize_code(server, browser, client, scope="read")
    first = client.fetch_token(f"{base}/o/token/", authorization_response=callback, code_verifier=verifier)
    assert requests.get(f"{base}/api/accounts/profile/", headers=bearer(first["access_token"]), timeout=10).status_code == 200

    client_id, secret = server["clients"]["portal"]
    replay = requests.post(f"{base}/o/token/", data={
        "grant_type": "authorization_code", "code": query_of(callback)["code"], "redirect_uri": REDIRECT,
        "code_verifier": verifier}, auth=(client_id, secret), timeout=10)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert requests.get(f"{base}/api/accounts/profile/", headers=bearer(first["access_token"]), timeout=10).status_code == 401
    refresh = requests.post(f"{base}/o/token/", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                            auth=(client_id, secret), timeout=10)
    assert refresh.status_code == 400


# --- scopes on the API -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scoped_tokens(server) -> dict:
    return {scope: password_token(server, scope)["access_token"] for scope in ("read", "read write", "write")}


@pytest.mark.parametrize(
    ("scope", "method", "path", "expected"),
    [
        ("read", "GET", "/api/articles/", 200),
        ("read", "POST", "/api/articles/", 403),
        ("read write", "POST", "/api/articles/", 201),
        ("write", "GET", "/api/articles/", 403),
        ("read", "GET", "/api/accounts/profile/", 200),
        ("read", "PATCH", "/api/accounts/profile/", 403),
        ("read write", "PATCH", "/api/accounts/profile/", 200),
        ("write", "GET", "/api/accounts/profile/", 403),
    ],
)
def test_scopes_allow_and_deny_on_the_api(server, scoped_tokens, scope, method, path, expected):
    body = {"title": "From OAuth", "body": "scoped"} if path == "/api/articles/" else {"first_name": "Olive"}
    response = requests.request(method, f"{server['url']}{path}", json=body if method != "GET" else None,
                                headers=bearer(scoped_tokens[scope]), timeout=10)
    assert response.status_code == expected, response.text
    if expected == 403:
        needed = "read" if method == "GET" else "write"
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer ") and 'error="insufficient_scope"' in challenge and f'scope="{needed}"' in challenge
        assert response.json()["code"] == "insufficient_scope"


def test_missing_or_bad_token_is_401(server):
    base = server["url"]
    missing = requests.get(f"{base}/api/articles/", timeout=10)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    bad = requests.get(f"{base}/api/articles/", headers=bearer("not-a-real-token"), timeout=10)
    assert bad.status_code == 401


def test_access_token_in_the_query_string_is_not_accepted(server, scoped_tokens):
    response = requests.get(f"{server['url']}/api/accounts/profile/", params={"access_token": scoped_tokens["read"]}, timeout=10)
    assert response.status_code == 401


def test_discovery_advertises_what_bouncer_does(discovery, server):
    assert discovery["issuer"] == f"{server['url']}/o"
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert discovery["response_types_supported"] == ["code"]
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "implicit" not in discovery.get("grant_types_supported", [])
    for key in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "revocation_endpoint",
                "introspection_endpoint", "end_session_endpoint"):
        assert discovery[key].startswith(server["url"] + "/o/"), key
