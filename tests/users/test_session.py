import pytest

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.users.models import UserSession as Session
from tests.conftest import PASSWORD, session_client

pytestmark = pytest.mark.django_db


def test_login_sets_httponly_session_and_csrf_cookie(api, user):
    response = api.post("/api/accounts/login/", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert response.json() == {"message": "Login successful"}
    assert response.cookies["sessionid"]["httponly"]
    assert response.cookies["csrftoken"].value
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED, user=user, method="session").count() == 1


def test_login_rotates_session_key(api, user):
    api.get("/api/accounts/csrf/")
    api.session.save()  # an anonymous session exists before login
    before = api.cookies["sessionid"].value
    api.post("/api/accounts/login/", {"username": "alice", "password": PASSWORD}, format="json")
    assert api.cookies["sessionid"].value != before
    assert not Session.objects.filter(session_key=before).exists()


def test_login_username_is_case_insensitive(api, user):
    response = api.post("/api/accounts/login/", {"username": "ALICE", "password": PASSWORD}, format="json")
    assert response.status_code == 200


@pytest.mark.parametrize("url", ["/api/accounts/login/", "/api/auth-token/"], ids=["session", "token"])
def test_login_failure_body_is_identical_for_every_cause(api, failed_credentials, url):
    from bouncer.tokens.opaque.models import DeviceToken

    username, password = failed_credentials
    response = api.post(url, {"username": username, "password": password}, format="json")
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid credentials"}
    assert "sessionid" not in response.cookies
    assert not DeviceToken.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, username=username).count() == 1


def test_profile_with_session_cookie(user):
    client = session_client(user)
    response = client.get("/api/accounts/profile/")
    assert response.status_code == 200
    assert response.json() == {
        "id": user.pk, "username": "alice", "email": "alice@example.com",
        "first_name": "", "last_name": "", "is_staff": False,
    }


def test_logout_without_csrf_token_is_refused_and_keeps_session(user):
    client = session_client(user)
    client.credentials()  # drop X-CSRFToken
    response = client.post("/api/accounts/logout/")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert client.get("/api/accounts/profile/").status_code == 200


def test_logout_deletes_session_server_side(user):
    client = session_client(user)
    key = client.cookies["sessionid"].value
    response = client.post("/api/accounts/logout/")
    assert response.status_code == 200
    assert response.json() == {"message": "Logged out successfully"}
    assert not Session.objects.filter(session_key=key).exists()
    # Replaying the old cookie does not bring the session back.
    client.cookies["sessionid"] = key
    assert client.get("/api/accounts/profile/").status_code == 401
    assert AuditEvent.objects.filter(action=AuditAction.LOGOUT, user=user).count() == 1


def test_logout_without_credentials_is_401(api):
    response = api.post("/api/accounts/logout/")
    assert response.status_code == 401
    assert "WWW-Authenticate" in response


def test_cross_site_browser_login_is_refused(api, user):
    response = api.post(
        "/api/accounts/login/", {"username": "alice", "password": PASSWORD}, format="json",
        HTTP_ORIGIN="https://evil.example",
    )
    assert response.status_code == 403
    assert "sessionid" not in response.cookies


def test_same_origin_browser_login_is_allowed(api, user):
    response = api.post(
        "/api/accounts/login/", {"username": "alice", "password": PASSWORD}, format="json",
        HTTP_ORIGIN="http://testserver",
    )
    assert response.status_code == 200


def test_session_logout_with_a_token_is_403_and_revokes_nothing(user):
    from bouncer.tokens.opaque.models import DeviceToken
    from tests.conftest import token_client

    client = token_client(user)
    response = client.post("/api/accounts/logout/")
    assert response.status_code == 403
    assert "auth-token/logout" in response.json()["detail"]
    assert DeviceToken.objects.filter(user=user).count() == 1
