"""Shared fixtures: users, API clients per credential type, and a clean cache."""

from __future__ import annotations

import base64

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from bouncer.tokens.opaque.services import token_issue
from bouncer.users.models import User

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def _clean_cache():
    """Throttle counters and cached sessions must not leak between tests."""
    cache.clear()
    yield
    cache.clear()


def make_user(username: str = "alice", *, is_staff: bool = False, is_active: bool = True, password: str = PASSWORD) -> User:
    return User.objects.create_user(
        username=username, email=f"{username}@example.com", password=password, is_staff=is_staff, is_active=is_active
    )


@pytest.fixture(params=["unknown_user", "wrong_password", "inactive_user"])
def failed_credentials(request, db) -> tuple[str, str]:
    """(username, password) for each way a sign-in fails; every one must look the same."""
    make_user("alice")
    make_user("dormant", is_active=False)
    return {
        "unknown_user": ("nobody", PASSWORD),
        "wrong_password": ("alice", "wrong-password-1"),
        "inactive_user": ("dormant", PASSWORD),
    }[request.param]


@pytest.fixture
def user(db) -> User:
    return make_user("alice")


@pytest.fixture
def other_user(db) -> User:
    return make_user("bob")


@pytest.fixture
def staff(db) -> User:
    return make_user("carol", is_staff=True)


@pytest.fixture
def api() -> APIClient:
    """An anonymous client that enforces CSRF like a browser-facing server must."""
    return APIClient(enforce_csrf_checks=True)


def session_client(user: User, password: str = PASSWORD) -> APIClient:
    """Signs in through the real login endpoint and sends X-CSRFToken on writes."""
    client = APIClient(enforce_csrf_checks=True)
    response = client.post("/api/accounts/login/", {"username": user.username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    from django.conf import settings

    # By its configured name: __Host-csrftoken in production (config/settings/security.py).
    client.credentials(HTTP_X_CSRFTOKEN=response.cookies[settings.CSRF_COOKIE_NAME].value)
    return client


def token_client(user: User) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user, request=None).key}")
    return client


def basic_client(user: User, password: str = PASSWORD) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    raw = base64.b64encode(f"{user.username}:{password}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {raw}")
    return client


def oauth2_client(user: User, scope: str = "read write") -> APIClient:
    """A token from the password grant of a registered client, sent as Bearer."""
    from bouncer.oauth.services import oauth_client_create

    app, secret = oauth_client_create(name="matrix", client_type="confidential", grant_type="password")
    response = APIClient().post(
        "/o/token/",
        {"grant_type": "password", "username": user.username, "password": PASSWORD, "scope": scope,
         "client_id": app.client_id, "client_secret": secret},
    )
    assert response.status_code == 200, response.content
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}")
    return client


CLIENT_FACTORIES = {"session": session_client, "token": token_client, "basic": basic_client, "oauth2": oauth2_client}


@pytest.fixture(params=sorted(CLIENT_FACTORIES))
def auth_kind(request) -> str:
    """Runs a test once per credential type (session | token | basic | oauth2)."""
    return request.param


@pytest.fixture
def client_for(auth_kind):
    """``client_for(user)`` signs ``user`` in with the current credential type."""
    return CLIENT_FACTORIES[auth_kind]
