import pytest

from bouncer.audit.models import AuditAction, AuditEvent
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

URL = "/api/accounts/profile/"


def test_profile_without_credentials_is_401_with_challenge(api):
    response = api.get(URL)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == 'Bearer realm="bouncer"'


@pytest.mark.parametrize(
    "header",
    ["Token", "Token a b", "Token " + "x" * 500, "Token bogus-key", "Basic !!!notbase64", "Basic " + "eDp5"],
)
def test_profile_with_bad_credential_is_401_never_403(api, user, header):
    response = api.get(URL, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert "WWW-Authenticate" in response
    assert "detail" in response.json()


def test_profile_with_each_credential_type(user, client_for, auth_kind):
    response = client_for(user).get(URL)
    assert response.status_code == 200
    assert response.json()["username"] == "alice"


def test_profile_patch_updates_names_and_email(user, client_for):
    client = client_for(user)
    response = client.patch(URL, {"first_name": "Alice", "last_name": "Liddell", "email": "al@example.com"}, format="json")
    assert response.status_code == 200
    assert response.json()["first_name"] == "Alice"
    user.refresh_from_db()
    assert (user.first_name, user.last_name, user.email) == ("Alice", "Liddell", "al@example.com")
    assert AuditEvent.objects.filter(action=AuditAction.PROFILE_UPDATED, user=user).count() == 1


@pytest.mark.parametrize(
    "body",
    [{"is_staff": True}, {"username": "mallory"}, {"email": "not-an-email"}, {"first_name": "x" * 151}, {"last_name": ["list"]}],
)
def test_profile_patch_bad_or_forbidden_field_is_400_and_changes_nothing(user, client_for, body):
    response = client_for(user).patch(URL, body, format="json")
    assert response.status_code == 400
    user.refresh_from_db()
    assert (user.username, user.email, user.is_staff, user.first_name) == ("alice", "alice@example.com", False, "")


def test_profile_patch_to_taken_email_is_400(user, client_for):
    make_user("bob")
    response = client_for(user).patch(URL, {"email": "BOB@example.com"}, format="json")
    assert response.status_code == 400
    assert "email" in response.json()


def test_profile_patch_with_session_needs_csrf(user):
    from tests.conftest import session_client

    client = session_client(user)
    client.credentials()
    response = client.patch(URL, {"first_name": "Eve"}, format="json")
    assert response.status_code == 403
    user.refresh_from_db()
    assert user.first_name == ""


def test_profile_put_is_405_json(user, client_for):
    response = client_for(user).put(URL, {"first_name": "x"}, format="json")
    assert response.status_code == 405
    assert "detail" in response.json()
