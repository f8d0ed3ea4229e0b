"""Tutorial 000's account, session and token walkthrough against a real server,
with ``requests`` as the client (cookies, headers and all)."""

import base64

import pytest
import requests

pytestmark = pytest.mark.e2e

PASSWORD = "testpass123"


@pytest.fixture(scope="module")
def registered(live_server_url):
    response = requests.post(
        f"{live_server_url}/api/accounts/register/",
        json={"username": "testuser", "email": "test@example.com", "password": PASSWORD},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_register_then_profile_needs_credentials(live_server_url, registered):
    assert registered["username"] == "testuser" and registered["is_staff"] is False
    response = requests.get(f"{live_server_url}/api/accounts/profile/", timeout=10)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="bouncer"'


def test_session_walkthrough(live_server_url, registered):
    browser = requests.Session()
    login = browser.post(f"{live_server_url}/api/accounts/login/", json={"username": "testuser", "password": PASSWORD}, timeout=10)
    assert login.status_code == 200
    assert login.json() == {"message": "Login successful"}
    set_cookie = login.headers["Set-Cookie"]
    assert "sessionid=" in set_cookie and "HttpOnly" in set_cookie and "csrftoken=" in set_cookie
    profile = browser.get(f"{live_server_url}/api/accounts/profile/", timeout=10)
    assert profile.status_code == 200 and profile.json()["username"] == "testuser"
    # The tutorial's logout sends no CSRF token; Bouncer refuses it.
    assert browser.post(f"{live_server_url}/api/accounts/logout/", timeout=10).status_code == 403
    logout = browser.post(
        f"{live_server_url}/api/accounts/logout/", headers={"X-CSRFToken": browser.cookies["csrftoken"]}, timeout=10
    )
    assert logout.status_code == 200
    assert logout.json() == {"message": "Logged out successfully"}
    assert browser.get(f"{live_server_url}/api/accounts/profile/", timeout=10).status_code == 401


def test_token_walkthrough(live_server_url, registered):
    login = requests.post(
        f"{live_server_url}/api/auth-token/", json={"username": "testuser", "password": PASSWORD, "device_name": "e2e"}, timeout=10
    )
    assert login.status_code == 200
    token = login.json()["token"]
    headers = {"Authorization": f"Token {token}"}
    assert requests.get(f"{live_server_url}/api/accounts/profile/", headers=headers, timeout=10).status_code == 200
    created = requests.post(f"{live_server_url}/api/articles/", json={"title": "Hi", "body": "there"}, headers=headers, timeout=10)
    assert created.status_code == 201 and created.json()["author"] == "testuser"
    assert requests.post(f"{live_server_url}/api/auth-token/logout/", headers=headers, timeout=10).status_code == 204
    assert requests.get(f"{live_server_url}/api/accounts/profile/", headers=headers, timeout=10).status_code == 401


def test_basic_is_off_on_a_default_server(live_server_url, registered):
    raw = base64.b64encode(f"testuser:{PASSWORD}".encode()).decode()
    response = requests.get(f"{live_server_url}/api/accounts/profile/", headers={"Authorization": f"Basic {raw}"}, timeout=10)
    assert response.status_code == 401


def test_errors_are_json_on_a_production_like_server(live_server_url):
    missing = requests.get(f"{live_server_url}/api/nothing-here/", timeout=10)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    bad = requests.post(f"{live_server_url}/api/accounts/login/", data=b"{oops", headers={"Content-Type": "application/json"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["code"] == "parse_error"


def test_readiness_and_docs(live_server_url):
    assert requests.get(f"{live_server_url}/readyz", timeout=10).json()["status"] == "ok"
    docs = requests.get(f"{live_server_url}/api/docs/", timeout=10)
    assert docs.status_code == 200
    schema = requests.get(f"{live_server_url}/api/schema/", timeout=10)
    assert schema.status_code == 200 and b"/api/accounts/login/" in schema.content


def test_jwt_walkthrough_and_independent_verification_from_jwks(live_server_url, registered):
    import jwt as pyjwt

    obtained = requests.post(f"{live_server_url}/api/token/", json={"username": "testuser", "password": PASSWORD}, timeout=10)
    assert obtained.status_code == 200
    pair = obtained.json()
    headers = {"Authorization": f"Bearer {pair['access']}"}
    assert requests.get(f"{live_server_url}/api/accounts/profile/", headers=headers, timeout=10).json()["username"] == "testuser"

    # Another service verifies the token locally, with only the JWKS URL.
    jwks = pyjwt.PyJWKClient(f"{live_server_url}/.well-known/jwks.json")
    key = jwks.get_signing_key_from_jwt(pair["access"])
    claims = pyjwt.decode(pair["access"], key.key, algorithms=["ES256"], audience="bouncer-api", issuer="bouncer")
    assert (claims["username"], claims["token_type"]) == ("testuser", "access")

    rotated = requests.post(f"{live_server_url}/api/token/refresh/", json={"refresh": pair["refresh"]}, timeout=10).json()
    verify = requests.post(f"{live_server_url}/api/token/verify/", json={"token": rotated["access"]}, timeout=10)
    assert verify.status_code == 200 and verify.json() == {}
    out = requests.post(f"{live_server_url}/api/token/blacklist/", json={"refresh": rotated["refresh"]}, timeout=10)
    assert out.status_code == 200
    # Revocation reaches the access token at once, on whichever worker answers.
    for _ in range(4):
        gone = requests.get(f"{live_server_url}/api/accounts/profile/", headers={"Authorization": f"Bearer {rotated['access']}"}, timeout=10)
        assert gone.status_code == 401 and gone.json()["code"] == "token_revoked"
