"""A revocation on one node holds on every other node at once.

Two gunicorn nodes (two workers each) share one database; without
``REDIS_URL`` every worker has its own in-process cache, with it they share
Redis (CI runs both). Each credential is issued on node A and used on node B
(so B has read, and may have cached, it); one request to node A revokes it;
every later request to either node must be refused.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.e2e.conftest import bouncer_server
from tests.e2e.oauth_support import authlib_over_http, create_client  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.e2e

PASSWORD = "revocation-e2e-pass-1"
USES = 12  # sync workers take one connection each: 12 requests reach both workers of a node


def _register(url: str, username: str) -> None:
    response = requests.post(f"{url}/api/accounts/register/", timeout=10,
                             json={"username": username, "email": f"{username}@example.com", "password": PASSWORD})
    assert response.status_code == 201, response.text


def _credentials(url: str, env: dict, username: str) -> dict[str, requests.Session]:
    """One live credential of each kind, each a requests session sending it."""
    held: dict[str, requests.Session] = {}
    browser = requests.Session()
    login = browser.post(f"{url}/api/accounts/login/", json={"username": username, "password": PASSWORD}, timeout=10)
    assert login.status_code == 200, login.text
    held["session"] = browser
    for kind, path, field, scheme in (("token", "/api/auth-token/", "token", "Token"), ("jwt", "/api/token/", "access", "Bearer")):
        answer = requests.post(f"{url}{path}", json={"username": username, "password": PASSWORD, "device_name": kind}, timeout=10) \
            if kind == "token" else requests.post(f"{url}{path}", json={"username": username, "password": PASSWORD}, timeout=10)
        assert answer.status_code == 200, answer.text
        client = requests.Session()
        client.headers["Authorization"] = f"{scheme} {answer.json()[field]}"
        held[kind] = client
    client_id, secret = create_client(env, f"Revocation {username}", "--type", "confidential", "--grant", "password")
    token = OAuth2Session(client_id, secret, scope="read write").fetch_token(
        f"{url}/o/token/", grant_type="password", username=username, password=PASSWORD)
    oauth = requests.Session()
    oauth.headers["Authorization"] = f"Bearer {token['access_token']}"
    held["oauth2"] = oauth
    return held


def _statuses(client: requests.Session, url: str) -> set[int]:
    return {client.get(f"{url}/api/accounts/profile/", timeout=10).status_code for _ in range(USES)}


def _reset_link_from_log(env: dict, user_id: int) -> tuple[str, str]:
    """The (uid, token) of the user's reset mail node A printed (no SMTP host: mail goes to its console log)."""
    from django.utils.http import int_to_base36

    uid = int_to_base36(user_id)
    log = Path(env["BOUNCER_LOCAL_DIR"]) / "server.log"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = re.findall(rf"/accounts/password/reset/({uid})/([0-9a-z]+-[0-9a-f]+)/", log.read_text(errors="replace"))
        if found:
            return found[-1]
        time.sleep(0.2)  # the outbox thread writes the mail just after the answer
    raise AssertionError("no reset mail in node A's log")


@pytest.fixture(scope="module")
def node_b(live_server_url, live_server_env):
    with bouncer_server(live_server_env, log_name="node-b.log") as url:
        yield url


@pytest.mark.parametrize("event", ["revoke_others", "password_change", "password_reset"])
def test_revocation_on_one_node_holds_on_every_node(live_server_url, node_b, live_server_env, event):
    node_a, username = live_server_url, f"nodes_{event}"
    _register(node_a, username)
    held = _credentials(node_a, live_server_env, username)
    for kind, client in held.items():
        assert _statuses(client, node_b) == {200}, kind
    controller = requests.post(f"{node_a}/api/auth-token/", json={"username": username, "password": PASSWORD, "device_name": "ctl"},
                               timeout=10).json()["token"]
    headers = {"Authorization": f"Token {controller}"}
    if event == "revoke_others":
        response = requests.post(f"{node_a}/api/accounts/sessions/revoke-others/", headers=headers, timeout=10)
    elif event == "password_change":
        response = requests.post(f"{node_a}/api/accounts/password/change/", headers=headers, timeout=10,
                                 json={"old_password": PASSWORD, "new_password": "another-passphrase-42"})
    else:
        # The forgotten-password link: every credential of every kind ends, the controller's too.
        held["controller"] = requests.Session()
        held["controller"].headers.update(headers)
        asked = requests.post(f"{node_a}/api/auth/password/reset/", json={"email": f"{username}@example.com"}, timeout=10)
        assert asked.status_code == 200, asked.text
        user_id = requests.get(f"{node_a}/api/accounts/profile/", headers=headers, timeout=10).json()["id"]
        uid, token = _reset_link_from_log(live_server_env, user_id)
        response = requests.post(f"{node_a}/api/auth/password/reset/confirm/", timeout=10, json={
            "uid": uid, "token": token, "new_password1": "another-passphrase-42", "new_password2": "another-passphrase-42"})
    assert response.status_code == 200, response.text
    for node in (node_b, node_a):
        still = {kind: sorted(_statuses(client, node)) for kind, client in held.items()}
        assert still == {kind: [401] for kind in held}, node
        if event != "password_reset":
            assert requests.get(f"{node}/api/accounts/profile/", headers=headers, timeout=10).status_code == 200
