"""A provider configured from the environment alone is offered; any other is not."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.social_provider import PROVIDER_ID, social_servers  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e


def test_provider_from_the_environment_is_offered_and_an_unknown_one_is_404(social_servers):  # noqa: F811
    offered = requests.get(f"{social_servers.relying}/accounts/oidc/{PROVIDER_ID}/login/", timeout=10)
    assert offered.status_code == 200
    assert "csrfmiddlewaretoken" in offered.text  # a button that POSTs: a link alone starts nothing
    for path in ("/accounts/oidc/nope/login/", "/accounts/google/login/", "/accounts/github/login/callback/"):
        assert requests.get(f"{social_servers.relying}{path}", timeout=10).status_code == 404, path


def test_provider_code_flow_reaches_the_apps_redirect(social_servers):  # noqa: F811
    social_servers.provider_user("fixture-user", "fixture-pass-1234")
    query, verifier = social_servers.provider_authorize(requests.Session(), username="fixture-user", password="fixture-pass-1234")
    assert "code" in query and verifier
    tokens = social_servers.provider_tokens(query, verifier)
    assert tokens["id_token"] and tokens["access_token"]
