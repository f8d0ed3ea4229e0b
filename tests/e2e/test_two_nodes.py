"""Two Bouncer nodes, one database, one cache: what one node does, the other knows.

Two gunicorn nodes (gunicorn.conf.py, two workers each) share one database
(PostgreSQL with DATABASE_URL, else one SQLite file) and, with REDIS_URL, one
Redis. A load balancer may send any request of a client to either node, so:

- every credential kind issued on node A works on node B;
- every revocation made on node A holds on node B from the next request on
  (tests/e2e/test_revocation_every_node.py covers "sign out everywhere else",
  a password change and a password reset; this module covers the rest);
- throttles and lockouts count across both nodes (with Redis: without it the
  counters are per process, as docs/deployment.md says);
- a JWT or OIDC key rotation, run once, is picked up by both without a restart.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
import pyotp
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from tests.e2e.conftest import bouncer_server, free_port
from tests.e2e.oauth_support import (
    Forms,
    answer_consent,
    authlib_over_http,  # noqa: F401 (autouse fixture)
    consent_page,
    manage,
    sign_in_page,
)

pytestmark = pytest.mark.e2e

PASSWORD = "two-nodes-pass-4821"
USES = 12  # sync workers take one connection each: 12 requests reach both workers of a node
REDIRECT = "https://rp.example.com/callback"
LOCKOUT_ATTEMPTS = 3
ACCOUNT_RATE = 8  # sign-ins per account per minute (every test below makes fewer per user)
PER_PROCESS = "without REDIS_URL throttle and lockout counters are per process (docs/deployment.md, Several nodes)"
needs_redis = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason=PER_PROCESS)


@dataclass
class Nodes:
    a: str
    b: str
    env: dict
    sockets: tuple[Path, Path]
    logs: tuple[Path, Path]
    clients: dict[str, tuple[str, str]]


@pytest.fixture(scope="module")
def nodes(live_server_url, live_server_env, tmp_path_factory):
    """Two nodes of the end-to-end server's deployment: its database (migrated), its
    local directory (secret key, key rings, static files), with rates low enough to test."""
    tmp = tmp_path_factory.mktemp("two-nodes")
    local = Path(live_server_env["BOUNCER_LOCAL_DIR"])
    port_a = free_port()
    env = {
        **live_server_env,
        # The public URL (a load balancer's): the same issuer whichever node answers.
        "BOUNCER_OIDC_ISSUER": f"http://127.0.0.1:{port_a}/o",
        "BOUNCER_THROTTLE_LOGIN_ACCOUNT": f"{ACCOUNT_RATE}/min",
        "BOUNCER_LOCKOUT_ATTEMPTS": str(LOCKOUT_ATTEMPTS),
        "BOUNCER_THROTTLE_REGISTER": "1000/min",
        "BOUNCER_GRACEFUL_TIMEOUT": "5",
    }
    # As in production: the key rings exist before the nodes start (neither invents its own).
    if not (local / "jwt_keys.json").exists():
        manage(env, "jwt_rotate_keys")
    clients = setup_clients(env)
    sockets = (tmp / "node-a.ctl", tmp / "node-b.ctl")
    with bouncer_server({**env, "BOUNCER_CONTROL_SOCKET": str(sockets[0])}, log_name="two-nodes-a.log", port=port_a) as a, \
            bouncer_server({**env, "BOUNCER_CONTROL_SOCKET": str(sockets[1])}, log_name="two-nodes-b.log") as b:
        yield Nodes(a=a, b=b, env=env, sockets=sockets, logs=(local / "two-nodes-a.log", local / "two-nodes-b.log"), clients=clients)


CLIENTS = {
    "password": ["Two nodes password", "--type", "confidential", "--grant", "password"],
    "code": ["Two nodes portal", "--type", "confidential", "--grant", "authorization-code", "--redirect-uri", REDIRECT],
    "service": ["Two nodes service", "--type", "confidential", "--grant", "client-credentials"],
}


def setup_clients(env: dict) -> dict[str, tuple[str, str]]:
    """The OAuth2 clients (``oauth_create_client``, as an operator registers them) and an
    admin, in one ``manage.py shell``: each process start costs seconds."""
    script = (
        "import io, json\n"
        "from django.core.management import call_command\n"
        "from bouncer.users.models import User\n"
        "out = {}\n"
        f"for key, args in {CLIENTS!r}.items():\n"
        "    buffer = io.StringIO()\n"
        "    call_command('oauth_create_client', *args, stdout=buffer)\n"
        "    out[key] = buffer.getvalue()\n"
        f"User.objects.create_superuser('tn_admin', 'tn_admin@example.com', {PASSWORD!r})\n"
        "print('TN_CLIENTS ' + json.dumps(out))\n"
    )
    line = next(line for line in manage(env, "shell", "-v", "0", "-c", script).splitlines() if line.startswith("TN_CLIENTS "))
    printed = json.loads(line.removeprefix("TN_CLIENTS "))
    found = {key: dict(re.findall(r"^(client_id|client_secret)=(\S+)$", text, re.M)) for key, text in printed.items()}
    return {key: (values["client_id"], values["client_secret"]) for key, values in found.items()}


# --- helpers ---------------------------------------------------------------------------


def register(node: str, username: str) -> None:
    response = requests.post(f"{node}/api/accounts/register/", timeout=10,
                             json={"username": username, "email": f"{username}@example.com", "password": PASSWORD})
    assert response.status_code == 201, response.text


def statuses(client: requests.Session, node: str, path: str = "/api/accounts/profile/") -> set[int]:
    return {client.get(f"{node}{path}", timeout=10, allow_redirects=False).status_code for _ in range(USES)}


def with_header(value: str) -> requests.Session:
    client = requests.Session()
    client.headers["Authorization"] = value
    return client


def api_session(node: str, username: str) -> requests.Session:
    browser = requests.Session()
    login = browser.post(f"{node}/api/accounts/login/", json={"username": username, "password": PASSWORD}, timeout=10)
    assert login.status_code == 200, login.text
    browser.headers["X-CSRFToken"] = browser.cookies["csrftoken"]
    return browser


def drf_token(node: str, username: str, device: str = "phone") -> str:
    answer = requests.post(f"{node}/api/auth-token/", json={"username": username, "password": PASSWORD, "device_name": device},
                           timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["token"]


def jwt_pair(node: str, username: str) -> dict:
    answer = requests.post(f"{node}/api/token/", json={"username": username, "password": PASSWORD}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def password_grant(nodes: Nodes, node: str, username: str, scope: str = "read write") -> dict:
    client_id, secret = nodes.clients["password"]
    return OAuth2Session(client_id, secret, scope=scope).fetch_token(
        f"{node}/o/token/", grant_type="password", username=username, password=PASSWORD)


@pytest.fixture(scope="module")
def code_client(nodes) -> tuple[str, str]:
    return nodes.clients["code"]


def code_flow(code_client, *, username: str, authorize_on: str, token_on: str, scope: str = "openid profile read") -> dict:
    """Authorization code + PKCE through the sign-in and consent pages of ``authorize_on``,
    the code redeemed at ``token_on``; the token response (authlib)."""
    client_id, secret = code_client
    client = OAuth2Session(client_id, secret, redirect_uri=REDIRECT, code_challenge_method="S256", scope=scope)
    verifier = generate_token(48)
    url, _ = client.create_authorization_url(f"{authorize_on}/o/authorize/", code_verifier=verifier, nonce=generate_token(16))
    browser = requests.Session()
    page = consent_page(browser, authorize_on, url, username=username, password=PASSWORD)
    callback = answer_consent(browser, page, allow=True).headers["Location"]
    assert callback.startswith(REDIRECT + "?"), callback
    return client.fetch_token(f"{token_on}/o/token/", authorization_response=callback, code_verifier=verifier)


def id_token_claims(node: str, id_token: str, audience: str) -> dict:
    """The id_token verified with the key ``node``'s JWKS publishes for its kid (PyJWT)."""
    key = jwt.PyJWKClient(f"{node}/o/.well-known/jwks.json", cache_jwk_set=False).get_signing_key_from_jwt(id_token)
    return jwt.decode(id_token, key.key, algorithms=["RS256"], audience=audience, options={"require": ["exp", "iat", "sub", "iss"]})


def credential_ids(node: str, token: str) -> dict[str, list[dict]]:
    listed = requests.get(f"{node}/api/accounts/sessions/", headers={"Authorization": f"Token {token}"}, timeout=10)
    assert listed.status_code == 200, listed.text
    by_kind: dict[str, list[dict]] = {}
    for row in listed.json()["results"]:
        by_kind.setdefault(row["kind"], []).append(row)
    return by_kind


def held_credentials(nodes: Nodes, username: str) -> dict[str, requests.Session]:
    """One live credential of each kind, issued on node A, each a requests session sending it."""
    pair = jwt_pair(nodes.a, username)
    return {
        "session": api_session(nodes.a, username),
        "token": with_header(f"Token {drf_token(nodes.a, username)}"),
        "jwt": with_header(f"Bearer {pair['access']}"),
        "oauth2": with_header(f"Bearer {password_grant(nodes, nodes.a, username)['access_token']}"),
    }


# --- every credential kind issued on A works on B -----------------------------------------


def test_the_nodes_have_their_own_control_sockets(nodes):
    # gunicorn's default control socket is one path per user: each node here has its own.
    for socket_path, log in zip(nodes.sockets, nodes.logs):
        assert socket_path.is_socket(), log.read_text()
        assert f"Control socket listening at {socket_path}" in log.read_text()


def test_a_session_signed_in_through_the_api_on_a_works_on_b(nodes):
    register(nodes.a, "tn_session_api")
    browser = api_session(nodes.a, "tn_session_api")
    assert statuses(browser, nodes.b) == {200}
    # An unsafe request on B with A's CSRF token is accepted too (one CSRF secret, one session).
    changed = browser.patch(f"{nodes.b}/api/accounts/profile/", json={"first_name": "Bea"}, timeout=10)
    assert changed.status_code == 200, changed.text
    assert browser.get(f"{nodes.a}/api/accounts/profile/", timeout=10).json()["first_name"] == "Bea"
    # Without the CSRF token B refuses the same change, as A would.
    del browser.headers["X-CSRFToken"]
    refused = browser.patch(f"{nodes.b}/api/accounts/profile/", json={"first_name": "Eve"}, timeout=10)
    assert refused.status_code == 403
    assert browser.get(f"{nodes.a}/api/accounts/profile/", timeout=10).json()["first_name"] == "Bea"


def test_a_session_signed_in_through_the_page_on_a_works_on_b(nodes):
    register(nodes.a, "tn_session_page")
    browser = requests.Session()
    signed_in = sign_in_page(browser, f"{nodes.a}/accounts/login/?next=/accounts/sessions/", username="tn_session_page", password=PASSWORD)
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/accounts/sessions/"
    assert statuses(browser, nodes.b, "/accounts/sessions/") == {200}
    page = browser.get(f"{nodes.b}/accounts/sessions/", timeout=10)
    assert "tn_session_page" in page.text
    assert statuses(browser, nodes.b) == {200}


def test_a_drf_token_issued_on_a_works_on_b(nodes):
    register(nodes.a, "tn_token")
    client = with_header(f"Token {drf_token(nodes.a, 'tn_token')}")
    assert statuses(client, nodes.b) == {200}
    assert client.get(f"{nodes.b}/api/accounts/profile/", timeout=10).json()["username"] == "tn_token"
    assert statuses(with_header("Token not-a-token-of-ours"), nodes.b) == {401}


def test_a_jwt_issued_on_a_works_on_b_and_refreshes_there(nodes):
    register(nodes.a, "tn_jwt")
    pair = jwt_pair(nodes.a, "tn_jwt")
    assert statuses(with_header(f"Bearer {pair['access']}"), nodes.b) == {200}
    verified = requests.post(f"{nodes.b}/api/token/verify/", json={"token": pair["access"]}, timeout=10)
    assert verified.status_code == 200
    refreshed = requests.post(f"{nodes.b}/api/token/refresh/", json={"refresh": pair["refresh"]}, timeout=10)
    assert refreshed.status_code == 200, refreshed.text
    assert statuses(with_header(f"Bearer {refreshed.json()['access']}"), nodes.a) == {200}
    # B's JWKS verifies what A signed (PyJWT, the key picked by kid).
    key = jwt.PyJWKClient(f"{nodes.b}/.well-known/jwks.json", cache_jwk_set=False).get_signing_key_from_jwt(pair["access"])
    claims = jwt.decode(pair["access"], key.key, algorithms=[key.algorithm_name], audience=jwt.decode(
        pair["access"], options={"verify_signature": False})["aud"])
    assert claims["username"] == "tn_jwt"


def test_jwt_cookies_set_on_a_work_and_refresh_on_b(nodes):
    register(nodes.a, "tn_jwt_cookie")
    browser = requests.Session()
    signed_in = browser.post(f"{nodes.a}/api/token/", json={"username": "tn_jwt_cookie", "password": PASSWORD, "cookie": True},
                             timeout=10)
    assert signed_in.status_code == 200, signed_in.text
    assert "access" not in signed_in.json() and {"bouncer_access", "bouncer_refresh"} <= set(browser.cookies.keys())
    assert statuses(browser, nodes.b) == {200}
    before = browser.cookies["bouncer_access"]
    refreshed = browser.post(f"{nodes.b}/api/token/refresh/", timeout=10)  # the refresh cookie, an empty body
    assert refreshed.status_code == 200, refreshed.text
    assert browser.cookies["bouncer_access"] != before
    assert statuses(browser, nodes.a) == {200}


def test_oauth2_code_with_pkce_authorized_on_a_is_redeemed_and_used_on_b(nodes, code_client):
    register(nodes.a, "tn_oauth_code")
    token = code_flow(code_client, username="tn_oauth_code", authorize_on=nodes.a, token_on=nodes.b)
    assert set(token["scope"].split()) == {"openid", "profile", "read"}
    bearer = with_header(f"Bearer {token['access_token']}")
    assert statuses(bearer, nodes.b) == statuses(bearer, nodes.a) == {200}
    info = bearer.get(f"{nodes.b}/o/userinfo/", timeout=10)
    assert info.status_code == 200 and info.json()["preferred_username"] == "tn_oauth_code"
    # The id_token A's key signed verifies against B's JWKS, with the one issuer.
    claims = id_token_claims(nodes.b, token["id_token"], code_client[0])
    discovery = requests.get(f"{nodes.b}/o/.well-known/openid-configuration", timeout=10).json()
    assert claims["iss"] == discovery["issuer"] == f"{nodes.a}/o" and claims["sub"] == info.json()["sub"]
    # The refresh token from B refreshes on A.
    client_id, secret = code_client
    refreshed = requests.post(f"{nodes.a}/o/token/", data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
                              auth=(client_id, secret), timeout=10)
    assert refreshed.status_code == 200, refreshed.text
    assert statuses(with_header(f"Bearer {refreshed.json()['access_token']}"), nodes.b) == {200}


def test_oauth2_client_credentials_issued_on_a_introspect_active_on_b(nodes):
    client_id, secret = nodes.clients["service"]
    token = OAuth2Session(client_id, secret, scope="read").fetch_token(f"{nodes.a}/o/token/", grant_type="client_credentials")
    active = requests.post(f"{nodes.b}/o/introspect/", data={"token": token["access_token"]}, auth=(client_id, secret), timeout=10)
    assert active.status_code == 200 and active.json()["active"] is True and active.json()["client_id"] == client_id
    # A token B never saw issued, and a wrong secret, are refused there as on A.
    unknown = requests.post(f"{nodes.b}/o/introspect/", data={"token": "x" * 30}, auth=(client_id, secret), timeout=10)
    assert unknown.status_code == 200 and unknown.json() == {"active": False}
    wrong = requests.post(f"{nodes.b}/o/introspect/", data={"token": token["access_token"]}, auth=(client_id, "nope"), timeout=10)
    assert wrong.status_code == 401


def test_an_mfa_sign_in_started_on_a_completes_on_b(nodes):
    username = "tn_mfa"
    register(nodes.a, username)
    auth = {"Authorization": f"Token {drf_token(nodes.a, username, 'setup')}"}
    setup = requests.post(f"{nodes.a}/api/auth/mfa/totp/", json={}, headers=auth, timeout=10)
    assert setup.status_code == 200, setup.text
    app = pyotp.TOTP(setup.json()["secret"])
    now = time.time()
    # The setup begun on A is confirmed on B.
    confirmed = requests.post(f"{nodes.b}/api/auth/mfa/totp/confirm/", headers=auth, timeout=10,
                              json={"setup_id": setup.json()["setup_id"], "code": app.at(now)})
    assert confirmed.status_code == 201, confirmed.text

    started = requests.post(f"{nodes.a}/api/token/", json={"username": username, "password": PASSWORD}, timeout=10)
    assert started.status_code == 401 and started.json()["code"] == "mfa_required", started.text
    # The code confirmed on B is spent on every node: refused on A with another sign-in's mfa_token.
    replay = requests.post(f"{nodes.a}/api/auth/mfa/authenticate/", timeout=10,
                           json={"mfa_token": started.json()["mfa_token"], "code": app.at(now)})
    assert replay.status_code == 400 and replay.json()["code"] == "mfa_code_invalid", replay.text
    started = requests.post(f"{nodes.a}/api/token/", json={"username": username, "password": PASSWORD}, timeout=10)
    assert started.status_code == 401 and started.json()["code"] == "mfa_required"
    finished = requests.post(f"{nodes.b}/api/auth/mfa/authenticate/", timeout=10,
                             json={"mfa_token": started.json()["mfa_token"], "code": app.at(now + 30)})
    assert finished.status_code == 200, finished.text
    assert set(finished.json()) == {"access", "refresh"}
    bearer = with_header(f"Bearer {finished.json()['access']}")
    assert statuses(bearer, nodes.a) == {200}
    assert "mfa" in jwt.decode(finished.json()["access"], options={"verify_signature": False})["amr"]
    # The mfa_token is single use on every node.
    again = requests.post(f"{nodes.a}/api/auth/mfa/authenticate/", timeout=10,
                          json={"mfa_token": started.json()["mfa_token"], "code": app.at(now + 30)})
    assert again.status_code == 401 and again.json()["code"] == "mfa_token_invalid"


# --- every revocation on A holds on B at once ---------------------------------------------


def test_session_logout_on_a_ends_the_session_on_b(nodes):
    register(nodes.a, "tn_logout")
    api_browser = api_session(nodes.a, "tn_logout")
    page_browser = requests.Session()
    assert sign_in_page(page_browser, f"{nodes.a}/accounts/login/", username="tn_logout", password=PASSWORD).status_code == 302
    for browser in (api_browser, page_browser):
        assert statuses(browser, nodes.b) == {200}
    # The API's logout, and the page's (a POST form with its CSRF token).
    assert api_browser.post(f"{nodes.a}/api/accounts/logout/", timeout=10).status_code == 200
    out = page_browser.post(f"{nodes.a}/accounts/logout/", data={"csrfmiddlewaretoken": page_browser.cookies["csrftoken"]},
                            allow_redirects=False, timeout=10)
    assert out.status_code == 302, out.text
    for browser in (api_browser, page_browser):
        assert statuses(browser, nodes.b) == {401}
        assert statuses(browser, nodes.b, "/accounts/sessions/") == {302}  # the page sends it to sign in


def test_revoking_each_credential_through_the_sessions_api_on_a_ends_it_on_b(nodes):
    username = "tn_revoke_one"
    register(nodes.a, username)
    held = held_credentials(nodes, username)
    controller = drf_token(nodes.a, username, "controller")
    for kind, client in held.items():
        assert statuses(client, nodes.b) == {200}, kind
    listed = credential_ids(nodes.a, controller)
    for kind in held:
        victim = next(row for row in listed[kind] if not row["current"])
        gone = requests.delete(f"{nodes.a}/api/accounts/sessions/{victim['id']}/", headers={"Authorization": f"Token {controller}"},
                               timeout=10)
        assert gone.status_code == 204, gone.text
        assert statuses(held[kind], nodes.b) == {401}, kind
    assert statuses(with_header(f"Token {controller}"), nodes.b) == {200}
    # Another user's credential id, revoked from A, is not found and ends nothing.
    register(nodes.a, "tn_revoke_other")
    other = drf_token(nodes.a, "tn_revoke_other")
    other_id = credential_ids(nodes.a, other)["token"][0]["id"]
    refused = requests.delete(f"{nodes.a}/api/accounts/sessions/{other_id}/", headers={"Authorization": f"Token {controller}"}, timeout=10)
    assert refused.status_code == 404
    assert statuses(with_header(f"Token {other}"), nodes.b) == {200}


def test_deactivation_in_the_admin_on_a_ends_everything_on_b(nodes):
    username = "tn_deactivated"
    register(nodes.a, username)
    held = held_credentials(nodes, username)
    for kind, client in held.items():
        assert statuses(client, nodes.b) == {200}, kind
    user_id = held["token"].get(f"{nodes.b}/api/accounts/profile/", timeout=10).json()["id"]
    admin = requests.Session()
    assert sign_in_page(admin, f"{nodes.a}/accounts/login/?next=/admin/", username="tn_admin", password=PASSWORD).status_code == 302
    change = admin.get(f"{nodes.a}/admin/users/user/{user_id}/change/", timeout=10)
    assert change.status_code == 200, change.text
    form = next(f for f in Forms(change.text).forms if any(i.get("name") == "is_active" for i in f["inputs"]))
    data = {}
    for field in form["inputs"]:
        name, kind = field.get("name"), field.get("type", "text")
        if not name or kind in ("submit", "button", "file") or name == "is_active":
            continue  # is_active left out: the box is unticked
        if kind == "checkbox":
            if "checked" in field:
                data[name] = field.get("value") or "on"
        else:
            data[name] = field.get("value", "")
    saved = admin.post(change.url, data={**data, "_save": "Save"}, allow_redirects=False, timeout=10)
    assert saved.status_code == 302, saved.text[:2000]
    for kind, client in held.items():
        assert statuses(client, nodes.b) == {401}, kind
    refused = requests.post(f"{nodes.b}/api/auth-token/", json={"username": username, "password": PASSWORD}, timeout=10)
    assert refused.status_code == 400 and refused.json() == {"error": "Invalid credentials"}


def test_jwt_logout_on_a_ends_the_sign_in_on_b(nodes):
    register(nodes.a, "tn_jwt_logout")
    pair = jwt_pair(nodes.a, "tn_jwt_logout")
    assert statuses(with_header(f"Bearer {pair['access']}"), nodes.b) == {200}
    out = requests.post(f"{nodes.a}/api/token/blacklist/", json={"refresh": pair["refresh"]}, timeout=10)
    assert out.status_code == 200, out.text
    assert statuses(with_header(f"Bearer {pair['access']}"), nodes.b) == {401}
    refused = requests.post(f"{nodes.b}/api/token/refresh/", json={"refresh": pair["refresh"]}, timeout=10)
    assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"


def test_a_refresh_token_replayed_on_a_revokes_the_family_on_b(nodes):
    register(nodes.a, "tn_jwt_family")
    first = jwt_pair(nodes.a, "tn_jwt_family")
    second = requests.post(f"{nodes.a}/api/token/refresh/", json={"refresh": first["refresh"]}, timeout=10).json()
    third = requests.post(f"{nodes.b}/api/token/refresh/", json={"refresh": second["refresh"]}, timeout=10)
    assert third.status_code == 200, third.text
    third = third.json()
    assert statuses(with_header(f"Bearer {third['access']}"), nodes.b) == {200}
    # The first token, two generations back: reuse, on A; the whole family ends, on B too.
    replay = requests.post(f"{nodes.a}/api/token/refresh/", json={"refresh": first["refresh"]}, timeout=10)
    assert replay.status_code == 401 and replay.json()["code"] == "token_revoked", replay.text
    assert statuses(with_header(f"Bearer {third['access']}"), nodes.b) == {401}
    newest = requests.post(f"{nodes.b}/api/token/refresh/", json={"refresh": third["refresh"]}, timeout=10)
    assert newest.status_code == 401


def test_oauth2_revocation_on_a_holds_on_b(nodes, code_client):
    register(nodes.a, "tn_oauth_revoke")
    client_id, secret = code_client
    first = code_flow(code_client, username="tn_oauth_revoke", authorize_on=nodes.a, token_on=nodes.a, scope="read")
    second = code_flow(code_client, username="tn_oauth_revoke", authorize_on=nodes.a, token_on=nodes.a, scope="read")
    for token in (first, second):
        assert statuses(with_header(f"Bearer {token['access_token']}"), nodes.b) == {200}
    # The access token revoked (RFC 7009) on A.
    revoked = requests.post(f"{nodes.a}/o/revoke_token/", data={"token": first["access_token"], "token_type_hint": "access_token"},
                            auth=(client_id, secret), timeout=10)
    assert revoked.status_code == 200
    assert statuses(with_header(f"Bearer {first['access_token']}"), nodes.b) == {401}
    # The refresh token revoked on A: refused on B, and its access token ends with it.
    revoked = requests.post(f"{nodes.a}/o/revoke_token/", data={"token": second["refresh_token"], "token_type_hint": "refresh_token"},
                            auth=(client_id, secret), timeout=10)
    assert revoked.status_code == 200
    refused = requests.post(f"{nodes.b}/o/token/", data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
                            auth=(client_id, secret), timeout=10)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert statuses(with_header(f"Bearer {second['access_token']}"), nodes.b) == {401}


# --- attacks: a revoked credential raced to B, a refresh token raced to both ---------------


@pytest.mark.parametrize("kind", ["session", "token", "jwt", "oauth2"])
def test_a_credential_revoked_on_a_is_refused_on_b_from_the_next_request(nodes, kind):
    """B is hammered with the credential while A revokes it: no request sent after
    A's answer arrived is accepted, however soon after."""
    username = f"tn_race_{kind}"
    register(nodes.a, username)
    client = held_credentials(nodes, username)[kind]
    controller = drf_token(nodes.a, username, "controller")
    victim = next(row for row in credential_ids(nodes.a, controller)[kind] if not row["current"])
    seen: list[tuple[float, int]] = []
    stop = threading.Event()

    def hammer():
        hammering = requests.Session()
        hammering.headers.update(client.headers)
        hammering.cookies.update(client.cookies)
        deadline = time.monotonic() + 30
        while not stop.is_set() and len(seen) < 2000 and time.monotonic() < deadline:
            sent = time.monotonic()
            seen.append((sent, hammering.get(f"{nodes.b}/api/accounts/profile/", timeout=10).status_code))

    worker = threading.Thread(target=hammer)
    worker.start()
    try:
        while not any(status == 200 for _, status in seen) and worker.is_alive():
            time.sleep(0.01)
        gone = requests.delete(f"{nodes.a}/api/accounts/sessions/{victim['id']}/", headers={"Authorization": f"Token {controller}"},
                               timeout=10)
        answered = time.monotonic()
        while sum(1 for sent, _ in seen if sent > answered) < 20 and worker.is_alive():
            time.sleep(0.01)
    finally:
        stop.set()
        worker.join(timeout=30)
    assert gone.status_code == 204, gone.text
    after = [status for sent, status in seen if sent > answered]
    assert len(after) >= 20 and set(after) == {401}
    assert 200 in {status for sent, status in seen if sent < answered}


def test_one_refresh_token_sent_to_both_nodes_at_once_rotates_once(nodes):
    """Within the grace window a racing copy gets the very successor the winner got
    (docs/jwt.md): one rotation, never two independent live tokens."""
    register(nodes.a, "tn_refresh_race")
    for _ in range(5):
        pair = jwt_pair(nodes.a, "tn_refresh_race")
        barrier = threading.Barrier(2)
        answers: dict[str, requests.Response] = {}

        def refresh(node: str, name: str) -> None:
            session = requests.Session()
            barrier.wait(timeout=10)
            answers[name] = session.post(f"{node}/api/token/refresh/", json={"refresh": pair["refresh"]}, timeout=20)

        threads = [threading.Thread(target=refresh, args=(node, name)) for node, name in ((nodes.a, "a"), (nodes.b, "b"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert {name: answer.status_code for name, answer in answers.items()} == {"a": 200, "b": 200}, \
            {name: answer.text for name, answer in answers.items()}
        successors = {jwt.decode(answer.json()["refresh"], options={"verify_signature": False})["jti"] for answer in answers.values()}
        assert len(successors) == 1  # one successor, whichever node won
        # That successor rotates once; the presented token replayed after it did is reuse.
        rotated = requests.post(f"{nodes.b}/api/token/refresh/", json={"refresh": answers["a"].json()["refresh"]}, timeout=10)
        assert rotated.status_code == 200, rotated.text
        again = requests.post(f"{nodes.a}/api/token/refresh/", json={"refresh": answers["b"].json()["refresh"]}, timeout=10)
        # Its copy, within the grace window: the same answer again, not a second rotation.
        assert again.status_code == 200, again.text
        assert jwt.decode(again.json()["refresh"], options={"verify_signature": False})["jti"] == \
            jwt.decode(rotated.json()["refresh"], options={"verify_signature": False})["jti"]
        replay = requests.post(f"{nodes.a}/api/token/refresh/", json={"refresh": pair["refresh"]}, timeout=10)
        assert replay.status_code == 401 and replay.json()["code"] == "token_revoked"
        assert statuses(with_header(f"Bearer {rotated.json()['access']}"), nodes.b) == {401}


# --- throttles and lockouts are shared (Redis) ---------------------------------------------


@needs_redis
def test_failed_sign_ins_split_across_the_nodes_lock_the_account_on_both(nodes):
    username = "tn_lockout"
    register(nodes.a, username)
    for attempt in range(LOCKOUT_ATTEMPTS):
        node = (nodes.a, nodes.b)[attempt % 2]
        failed = requests.post(f"{node}/api/auth-token/", json={"username": username, "password": "wrong-guess-1"}, timeout=10)
        assert failed.status_code == 400 and failed.json() == {"error": "Invalid credentials"}, failed.text
    for node in (nodes.b, nodes.a):
        locked = requests.post(f"{node}/api/auth-token/", json={"username": username, "password": PASSWORD}, timeout=10)
        assert locked.status_code == 429 and locked.json()["code"] == "account_locked", locked.text
        assert int(locked.headers["Retry-After"]) > 0
    # Another account is not locked by it.
    register(nodes.a, "tn_lockout_other")
    assert drf_token(nodes.b, "tn_lockout_other")


@needs_redis
def test_the_per_account_sign_in_rate_counts_across_both_nodes(nodes):
    username = "tn_throttle"
    register(nodes.a, username)
    for attempt in range(ACCOUNT_RATE):
        drf_token((nodes.a, nodes.b)[attempt % 2], username, f"device-{attempt}")
    for node in (nodes.a, nodes.b):
        throttled = requests.post(f"{node}/api/auth-token/", json={"username": username, "password": PASSWORD, "device_name": "x"},
                                  timeout=10)
        assert throttled.status_code == 429, throttled.text
        assert int(throttled.headers["Retry-After"]) > 0


# --- key rotations, run once, picked up by both nodes without a restart --------------------


def _kid(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def _jwks_kids(node: str, path: str) -> set[tuple[str, ...]]:
    return {tuple(key["kid"] for key in requests.get(f"{node}{path}", timeout=10).json()["keys"]) for _ in range(USES)}


def test_a_jwt_key_rotation_is_picked_up_by_both_nodes(nodes):
    register(nodes.a, "tn_jwt_rotation")
    old = jwt_pair(nodes.a, "tn_jwt_rotation")
    old_kid = _kid(old["access"])
    out = manage(nodes.env, "jwt_rotate_keys")
    new_kid = re.search(r"New current key (\S+);", out).group(1)
    assert new_kid != old_kid
    for node in (nodes.a, nodes.b):
        assert _jwks_kids(node, "/.well-known/jwks.json") == {(new_kid, old_kid)}
    for issuer, verifier in ((nodes.a, nodes.b), (nodes.b, nodes.a)):
        fresh = jwt_pair(issuer, "tn_jwt_rotation")
        assert _kid(fresh["access"]) == _kid(fresh["refresh"]) == new_kid
        assert statuses(with_header(f"Bearer {fresh['access']}"), verifier) == {200}
    # Signed with the previous key: still accepted, and still refreshes (into the new key).
    assert statuses(with_header(f"Bearer {old['access']}"), nodes.b) == {200}
    refreshed = requests.post(f"{nodes.b}/api/token/refresh/", json={"refresh": old["refresh"]}, timeout=10)
    assert refreshed.status_code == 200 and _kid(refreshed.json()["access"]) == new_kid


def test_an_oidc_key_rotation_is_picked_up_by_both_nodes(nodes, code_client):
    register(nodes.a, "tn_oidc_rotation")
    old = code_flow(code_client, username="tn_oidc_rotation", authorize_on=nodes.a, token_on=nodes.a)
    old_kid = _kid(old["id_token"])
    out = manage(nodes.env, "oidc_rotate_keys")
    new_kid = re.search(r"kid=(\S+)", out).group(1)
    assert new_kid != old_kid
    for node in (nodes.a, nodes.b):
        assert _jwks_kids(node, "/o/.well-known/jwks.json") == {(new_kid, old_kid)}
    for issuer, verifier in ((nodes.a, nodes.b), (nodes.b, nodes.a)):
        fresh = code_flow(code_client, username="tn_oidc_rotation", authorize_on=issuer, token_on=issuer)
        assert _kid(fresh["id_token"]) == new_kid
        assert id_token_claims(verifier, fresh["id_token"], code_client[0])["sub"]
    # An id_token signed with the previous key still verifies against either node's JWKS.
    for node in (nodes.a, nodes.b):
        assert id_token_claims(node, old["id_token"], code_client[0])["sub"]
