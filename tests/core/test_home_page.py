"""The root URL `/`: a small page linking to sign-in and the API description, not a debug 404."""

from __future__ import annotations

import re

import pytest
from django.test import Client, override_settings

import bouncer

pytestmark = pytest.mark.django_db

EVERYONE = ["/api/docs/", "/api/schema/", "/.well-known/jwks.json", "/o/.well-known/openid-configuration"]
ANONYMOUS = ["/accounts/login/", "/accounts/signup/"]
SIGNED_IN = ["/accounts/sessions/", "/accounts/security/"]


def links(response) -> set[str]:
    return set(re.findall(r'<a [^>]*href="([^"]+)"', response.content.decode()))


def test_anonymous_visitor_gets_the_sign_in_and_api_links():
    response = Client().get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert 'lang="en"' in html and "bouncer/bouncer.css" in html  # the one layout
    assert "<h1>Bouncer</h1>" in html and f"Version {bouncer.__version__}" in html
    assert set(EVERYONE + ANONYMOUS) <= links(response)
    assert not set(SIGNED_IN) & links(response)


def test_signed_in_user_gets_the_account_links(user):
    browser = Client()
    browser.force_login(user)
    response = browser.get("/")
    assert response.status_code == 200
    assert set(EVERYONE + SIGNED_IN) <= links(response)
    assert not set(ANONYMOUS) & links(response)
    assert "Signed in as <strong>alice</strong>" in response.content.decode()


@pytest.mark.parametrize("path", EVERYONE + ANONYMOUS)
def test_every_link_of_the_page_answers(path):
    assert Client().get(path).status_code == 200


@override_settings(DEBUG=True)
def test_not_a_debug_404_even_with_debug_on():
    response = Client().get("/")
    assert response.status_code == 200
    assert "URLconf" not in response.content.decode()


def test_head_answers_like_get_without_a_body():
    response = Client().head("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response.content == b""


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_writes_are_405_and_name_the_allowed_methods(method):
    response = getattr(Client(), method)("/")
    assert response.status_code == 405
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}
