"""`manage.py bouncer_demo` (run by `make run`) creates the demo OAuth client SPEC.md asks for, once, in development only."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from oauth2_provider.models import AbstractApplication, get_application_model

from bouncer.users.models import User
from tests.oauth.conftest import App, authorize, bearer, code_from, exchange, pkce_pair

pytestmark = pytest.mark.django_db

HOME = "http://127.0.0.1:8000/"


@pytest.fixture
def demo(tmp_path, settings):
    settings.BOUNCER_LOCAL_DIR = tmp_path

    def run() -> str:
        out = io.StringIO()
        call_command("bouncer_demo", stdout=out)
        return out.getvalue()

    return run


def test_first_start_creates_a_public_pkce_client_and_prints_it(demo):
    output = demo()
    client = get_application_model().objects.get(client_id="bouncer-demo")
    assert client.client_type == AbstractApplication.CLIENT_PUBLIC
    assert client.authorization_grant_type == AbstractApplication.GRANT_AUTHORIZATION_CODE
    assert client.algorithm == AbstractApplication.RS256_ALGORITHM  # id_tokens
    assert client.redirect_uris.split() == [HOME, "http://localhost:8000/"]
    assert not client.skip_authorization  # the consent page is part of the demo
    assert f"client_id=bouncer-demo  redirect_uri={HOME}" in output


def test_rerun_keeps_the_one_client_and_prints_the_same(demo):
    first = demo()
    before = get_application_model().objects.get(client_id="bouncer-demo")
    second = demo()
    assert first == second
    assert list(get_application_model().objects.values_list("pk", flat=True)) == [before.pk]


def test_the_demo_user_gets_tokens_through_the_demo_client_with_pkce(demo):
    demo()
    app = App(get_application_model().objects.get(client_id="bouncer-demo"), "")
    user = User.objects.get(username="demo")
    verifier, challenge = pkce_pair()
    redirect = authorize(user, app, scope="openid profile read", challenge=challenge, redirect_uri=HOME, nonce="n0nce")
    assert redirect["Location"].startswith(HOME + "?")
    tokens = exchange(app, code_from(redirect), verifier, redirect_uri=HOME, confidential=False)
    assert tokens.status_code == 200, tokens.content
    assert {"access_token", "refresh_token", "id_token"} <= tokens.json().keys()
    assert bearer(tokens.json()["access_token"]).get("/api/accounts/profile/").json()["username"] == "demo"


def test_the_demo_client_refuses_an_authorization_without_pkce(demo):
    demo()
    app = App(get_application_model().objects.get(client_id="bouncer-demo"), "")
    response = authorize(User.objects.get(username="demo"), app, redirect_uri=HOME)
    assert response.status_code == 302
    assert response["Location"].startswith(HOME + "?error=invalid_request&error_description=Code+challenge+required.")
    assert "code=" not in response["Location"]


def test_the_demo_client_refuses_a_redirect_uri_it_does_not_have(demo):
    demo()
    app = App(get_application_model().objects.get(client_id="bouncer-demo"), "")
    _, challenge = pkce_pair()
    response = authorize(User.objects.get(username="demo"), app, challenge=challenge, redirect_uri="http://127.0.0.1:8000/evil")
    assert response.status_code == 400
    assert "Location" not in response


@override_settings(BOUNCER_PRODUCTION=True)
def test_production_mode_creates_no_client(demo):
    with pytest.raises(CommandError, match="production"):
        demo()
    assert not get_application_model().objects.exists()
    assert not User.objects.exists()
