"""A credential is never issued to a sign-in that a lifecycle event overtook.

The sign-in flow checks the password, then the entry point issues its
credential. A password change, a password set by an admin or a deactivation
that commits in between revokes every credential that exists *then*; the one
issued a moment later must not escape it. (Sessions are safe anyway: Django
checks a session's password hash on every request.) The interleaving is made
to happen every time by running the lifecycle event inside the flow's result
step, which runs after the password check and before the issue.
"""

from __future__ import annotations

import pytest
from oauth2_provider.models import AccessToken
from rest_framework.test import APIClient

from bouncer.tokens.jwt.models import JwtFamily
from bouncer.tokens.opaque.models import DeviceToken
from bouncer.users import signin
from bouncer.users.models import User
from tests.conftest import PASSWORD, make_user
from tests.oauth.conftest import make_app, password_grant

pytestmark = pytest.mark.django_db


def _password_changed(user_id):
    other = User.objects.get(pk=user_id)
    other.set_password("a-new-passphrase-31")
    other.save()


def _deactivated(user_id):
    other = User.objects.get(pk=user_id)
    other.is_active = False
    other.save()


EVENTS = {"password_change": _password_changed, "deactivation": _deactivated}


@pytest.fixture(params=sorted(EVENTS))
def overtaken(request, monkeypatch):
    """Every sign-in's result step runs the event first, as a concurrent request would."""
    real = signin.signin_result

    def event_then_result(*, user):
        EVENTS[request.param](user.pk)
        return real(user=user)

    monkeypatch.setattr(signin, "signin_result", event_then_result)
    return request.param


def test_drf_token_login_overtaken_by_a_lifecycle_event_issues_nothing(overtaken):
    make_user("alice")
    response = APIClient().post("/api/auth-token/", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 400 and response.json() == {"error": "Invalid credentials"}
    assert not DeviceToken.objects.exists()


def test_jwt_obtain_overtaken_by_a_lifecycle_event_issues_nothing(overtaken):
    make_user("alice")
    response = APIClient().post("/api/token/", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 401 and response.json() == {"error": "Invalid credentials"}
    assert not JwtFamily.objects.exists()


def test_oauth_password_grant_overtaken_by_a_lifecycle_event_issues_nothing(overtaken):
    user = make_user("alice")
    response = password_grant(make_app("password"), user)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.exists()


def test_session_login_overtaken_by_a_lifecycle_event_does_not_stay_signed_in(overtaken):
    make_user("alice")
    client = APIClient()
    client.post("/api/accounts/login/", {"username": "alice", "password": PASSWORD}, format="json")
    assert client.get("/api/accounts/profile/").status_code == 401
