"""The API flow end to end, no mock: an app signs in to the relying Bouncer with what the
provider Bouncer (a real OpenID Connect provider on 127.0.0.1) gave it.

The app's side runs with requests: the provider's sign-in and consent pages,
the code taken from the redirect to the app's own redirect URI, then
``POST /api/auth/<provider id>/`` at the relying Bouncer.
"""

from __future__ import annotations

import secrets

import pytest
import requests

from tests.e2e.social_provider import PROVIDER_ID, social_servers, unique_name  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e

PASSWORD = "provider-pass-1234"


def signin(servers, body: dict) -> requests.Response:
    return requests.post(f"{servers.relying}/api/auth/{PROVIDER_ID}/", json=body, timeout=30)


def profile(servers, access: str) -> requests.Response:
    return requests.get(f"{servers.relying}/api/accounts/profile/", headers={"Authorization": f"Bearer {access}"}, timeout=10)


def test_code_with_pkce_gives_a_jwt_pair_of_the_relying_bouncer(social_servers):  # noqa: F811
    name = unique_name("spa")
    social_servers.provider_user(name, PASSWORD, verified=True)
    query, verifier = social_servers.provider_authorize(requests.Session(), username=name, password=PASSWORD)

    response = signin(social_servers, {"code": query["code"], "redirect_uri": social_servers.app_redirect_uri, "code_verifier": verifier})

    assert response.status_code == 200, response.text
    assert set(response.json()) == {"access", "refresh"}
    me = profile(social_servers, response.json()["access"])
    assert me.status_code == 200
    assert me.json()["email"] == f"{name}@example.com"

    # The same code again: refused, before and whatever the provider would say.
    again = signin(social_servers, {"code": query["code"], "redirect_uri": social_servers.app_redirect_uri, "code_verifier": verifier})
    assert again.status_code == 400
    assert again.json()["code"] == "social_code_invalid"


def test_code_with_the_wrong_verifier_is_refused_by_the_provider(social_servers):  # noqa: F811
    name = unique_name("pkce")
    social_servers.provider_user(name, PASSWORD)
    query, _verifier = social_servers.provider_authorize(requests.Session(), username=name, password=PASSWORD)

    response = signin(social_servers, {"code": query["code"], "redirect_uri": social_servers.app_redirect_uri, "code_verifier": "x" * 64})

    assert response.status_code == 400
    assert response.json()["code"] == "social_code_invalid"


def test_bad_code_answers_400(social_servers):  # noqa: F811
    response = signin(social_servers, {"code": "not-a-code", "redirect_uri": social_servers.app_redirect_uri, "code_verifier": "v" * 43})

    assert response.status_code == 400
    assert response.json()["code"] == "social_code_invalid"


def test_id_token_with_nonce_gives_a_drf_token_and_a_replay_is_refused(social_servers):  # noqa: F811
    name = unique_name("mobile")
    social_servers.provider_user(name, PASSWORD, verified=True)
    nonce = secrets.token_urlsafe(16)
    query, verifier = social_servers.provider_authorize(requests.Session(), username=name, password=PASSWORD, nonce=nonce)
    tokens = social_servers.provider_tokens(query, verifier)
    body = {"id_token": tokens["id_token"], "nonce": nonce, "credential": "token", "device_name": "e2e phone"}

    response = signin(social_servers, body)

    assert response.status_code == 200, response.text
    token = response.json()["token"]
    me = requests.get(f"{social_servers.relying}/api/accounts/profile/", headers={"Authorization": f"Token {token}"}, timeout=10)
    assert me.status_code == 200
    assert me.json()["username"] == name

    replay = signin(social_servers, body)
    assert replay.status_code == 400
    assert replay.json()["code"] == "social_token_replayed"


def test_id_token_with_another_nonce_is_refused(social_servers):  # noqa: F811
    name = unique_name("nonce")
    social_servers.provider_user(name, PASSWORD)
    query, verifier = social_servers.provider_authorize(requests.Session(), username=name, password=PASSWORD, nonce="the-real-nonce")
    tokens = social_servers.provider_tokens(query, verifier)

    response = signin(social_servers, {"id_token": tokens["id_token"], "nonce": "an-attackers-guess"})

    assert response.status_code == 400
    assert response.json()["code"] == "social_nonce_mismatch"


def test_linked_providers_list_and_last_way_in_kept(social_servers):  # noqa: F811
    name = unique_name("list")
    social_servers.provider_user(name, PASSWORD, verified=True)
    query, verifier = social_servers.provider_authorize(requests.Session(), username=name, password=PASSWORD)
    pair = signin(social_servers, {"code": query["code"], "redirect_uri": social_servers.app_redirect_uri, "code_verifier": verifier}).json()
    headers = {"Authorization": f"Bearer {pair['access']}"}

    listed = requests.get(f"{social_servers.relying}/api/auth/social/", headers=headers, timeout=10)

    assert listed.status_code == 200
    [account] = listed.json()
    assert account["provider"] == PROVIDER_ID
    unlink = requests.delete(f"{social_servers.relying}/api/auth/social/{account['id']}/", headers=headers, timeout=10)
    assert unlink.status_code == 409
    assert unlink.json()["code"] == "last_signin_method"
