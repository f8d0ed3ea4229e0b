import pytest

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.tokens.opaque.models import DeviceToken
from tests.conftest import PASSWORD, session_client, token_client

pytestmark = pytest.mark.django_db

URL = "/api/accounts/password/change/"
NEW = "a-new-passphrase-42"


def test_password_change_succeeds_and_new_password_works(user, client_for, api):
    response = client_for(user).post(URL, {"old_password": PASSWORD, "new_password": NEW}, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert AuditEvent.objects.filter(action=AuditAction.PASSWORD_CHANGED, user=user).count() == 1
    login = api.post("/api/accounts/login/", {"username": "alice", "password": NEW}, format="json")
    assert login.status_code == 200


def test_password_change_revokes_other_sessions_and_tokens_keeps_current_session(user):
    current = session_client(user)
    other_browser = session_client(user)
    phone = token_client(user)
    response = current.post(URL, {"old_password": PASSWORD, "new_password": NEW}, format="json")
    assert response.status_code == 200
    assert current.get("/api/accounts/profile/").status_code == 200
    assert other_browser.get("/api/accounts/profile/").status_code == 401
    assert phone.get("/api/accounts/profile/").status_code == 401
    assert not DeviceToken.objects.filter(user=user).exists()


def test_password_change_with_token_keeps_that_token_only(user):
    current = token_client(user)
    other = token_client(user)
    browser = session_client(user)
    assert current.post(URL, {"old_password": PASSWORD, "new_password": NEW}, format="json").status_code == 200
    assert current.get("/api/accounts/profile/").status_code == 200
    assert other.get("/api/accounts/profile/").status_code == 401
    assert browser.get("/api/accounts/profile/").status_code == 401
    assert DeviceToken.objects.filter(user=user).count() == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"old_password": "wrong-password-1", "new_password": NEW}, "old_password"),
        ({"old_password": PASSWORD, "new_password": "short"}, "new_password"),
        ({"old_password": PASSWORD, "new_password": "alice@example.com"}, "new_password"),
        ({"old_password": PASSWORD}, "new_password"),
        ({"new_password": NEW}, "old_password"),
    ],
)
def test_password_change_bad_input_is_400_and_keeps_password(user, client_for, body, field):
    client = client_for(user)
    response = client.post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert not AuditEvent.objects.filter(action=AuditAction.PASSWORD_CHANGED).exists()


def test_password_change_anonymous_is_401(api):
    assert api.post(URL, {"old_password": PASSWORD, "new_password": NEW}, format="json").status_code == 401
