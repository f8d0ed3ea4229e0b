"""OAuth2 scopes hold on every authenticated API view, not only where someone remembered them."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.permissions import AND, AllowAny
from rest_framework.views import APIView

from bouncer.core.permissions import OAuth2MethodScope
from bouncer.oauth.authentication import OAuth2BearerAuthentication
from tests.conftest import make_user
from tests.oauth.conftest import _forget_verified_secrets, bearer, make_app, password_tokens  # noqa: F401

pytestmark = pytest.mark.django_db


def drf_views(patterns=None, prefix=""):
    """(route, view class) for every DRF view the URLconf serves."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from drf_views(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            cls = getattr(entry.callback, "cls", None)
            if isinstance(cls, type) and issubclass(cls, APIView):
                yield prefix + str(entry.pattern), cls


def required(permission) -> list:
    """The permissions a request must pass: the top-level list and every ``&`` operand (not ``|`` or ``~``)."""
    if isinstance(permission, AND):
        return required(permission.op1) + required(permission.op2)
    return [permission]


def oauth_reachable(view_class) -> bool:
    """An OAuth2 access token authenticates there and the view is not open to anyone."""
    view = view_class()
    if any(isinstance(p, AllowAny) for p in view.get_permissions()):
        return False
    return any(isinstance(a, OAuth2BearerAuthentication) for a in view.get_authenticators())


ALL_VIEWS = sorted(set(drf_views()), key=lambda item: item[0])
VIEWS = [(route, cls) for route, cls in ALL_VIEWS if oauth_reachable(cls)]


@pytest.fixture
def password_app(db):
    return make_app("password")


def test_urlconf_walk_finds_the_api_views():
    assert {"api/accounts/profile/", "api/accounts/users/", "api/accounts/register/"} <= {r for r, _ in ALL_VIEWS}
    reachable = {r for r, _ in VIEWS}
    assert {"api/accounts/profile/", "api/accounts/users/"} <= reachable
    assert any("articles" in route for route in reachable)


@pytest.mark.parametrize("route, view_class", VIEWS, ids=[route for route, _ in VIEWS])
def test_every_authenticated_api_view_requires_the_oauth_scope(route, view_class):
    needed = [p for permission in view_class().get_permissions() for p in required(permission)]
    assert any(isinstance(p, OAuth2MethodScope) for p in needed), (
        f"{view_class.__name__} ({route}) lets OAuth2 tokens in whatever their scope: compose OAuth2MethodScope"
    )


@pytest.mark.parametrize("path", ["/api/accounts/users/", "/api/accounts/profile/"])
def test_openid_only_token_of_staff_is_refused_with_insufficient_scope(password_app, path):
    staff = make_user("carol", is_staff=True)
    make_user("dave")
    response = bearer(password_tokens(password_app, staff, scope="openid")["access_token"]).get(path)
    assert response.status_code == 403, response.content
    assert "dave@example.com" not in response.content.decode()
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]


def test_read_token_of_staff_lists_users(password_app):
    staff = make_user("carol", is_staff=True)
    response = bearer(password_tokens(password_app, staff, scope="read")["access_token"]).get("/api/accounts/users/")
    assert response.status_code == 200
    assert response.json()["count"] == 1
