"""Fixtures of the social tests: one configured app per provider, recorded provider answers."""

from __future__ import annotations

import pytest
import responses

from tests.social.recorded import Recorded, provider_settings

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"


@pytest.fixture
def providers(settings):
    """Google, GitHub, Facebook and an OpenID Connect app ("idp") configured, as from the environment.

    Through pytest-django's ``settings`` (not ``override_settings``): a test
    that changes ``settings.SOCIALACCOUNT_PROVIDERS`` again is then undone in
    the right order; with both, the restore order left this fixture's
    providers configured for every later test.
    """
    settings.SOCIALACCOUNT_PROVIDERS = provider_settings()
    yield


@pytest.fixture
def recorded(providers):
    """Provider answers played from tests/social/recorded/; any other outgoing request fails."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield Recorded(mock)


def social_post(client, provider: str, body: dict, **extra):
    return client.post(f"/api/auth/{provider}/", body, format="json", **extra)


def code_body(**overrides) -> dict:
    return {"code": "4/0AfJohXn-recorded-code", "redirect_uri": "https://app.example.com/callback", "code_verifier": VERIFIER, **overrides}
