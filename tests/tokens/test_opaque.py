import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.tokens.opaque.models import DeviceToken
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/api/auth-token/"
LOGOUT = "/api/auth-token/logout/"
PROFILE = "/api/accounts/profile/"


def login(api, username="alice", password=PASSWORD, **extra):
    return api.post(LOGIN, {"username": username, "password": password, **extra}, format="json")


def test_token_login_returns_contract_body_and_stores_only_hash(api, user):
    response = login(api, device_name="Pixel 9")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "user_id", "username", "email", "expiry"}
    assert (body["user_id"], body["username"], body["email"]) == (user.pk, "alice", "alice@example.com")
    stored = DeviceToken.objects.get(user=user)
    assert stored.digest == hashlib.sha256(body["token"].encode()).hexdigest()
    assert body["token"] not in {stored.digest, stored.prefix}
    assert stored.device_name == "Pixel 9"
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_ISSUED, user=user).count() == 1


def test_token_header_authenticates(api, user):
    token = login(api).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = api.get(PROFILE)
    assert response.status_code == 200
    assert response.json()["id"] == user.pk


# Failed token logins: tests/users/test_session.py::test_login_failure_body_is_identical_for_every_cause


def test_same_device_login_replaces_its_token(api, user):
    first = login(api, device_name="laptop").json()["token"]
    second = login(api, device_name="laptop").json()["token"]
    assert DeviceToken.objects.filter(user=user).count() == 1
    api.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert api.get(PROFILE).status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Token {second}")
    assert api.get(PROFILE).status_code == 200


def test_several_devices_hold_tokens_side_by_side(api, user):
    tokens = [login(api, device_name=name).json()["token"] for name in ("phone", "tablet", "")]
    tokens.append(login(api).json()["token"])
    assert DeviceToken.objects.filter(user=user).count() == 4
    for token in tokens:
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert api.get(PROFILE).status_code == 200


def test_token_expires(api, user):
    with override_settings(BOUNCER_TOKEN_TTL_HOURS=1):
        body = login(api).json()
    api.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    with time_machine.travel(timezone.now() + timedelta(minutes=59), tick=False):
        assert api.get(PROFILE).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=61), tick=False):
        response = api.get(PROFILE)
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid or expired token."


def test_expired_tokens_are_purged_when_new_ones_are_issued(api, user):
    with override_settings(BOUNCER_TOKEN_TTL_HOURS=1):
        for _ in range(3):
            login(api)
    with time_machine.travel(timezone.now() + timedelta(hours=2), tick=False):
        login(api)
        assert DeviceToken.objects.count() == 1


def test_token_of_deactivated_user_is_refused(api, user):
    api.credentials(HTTP_AUTHORIZATION=f"Token {login(api).json()['token']}")
    user.is_active = False
    user.save()
    assert api.get(PROFILE).status_code == 401


def test_logout_deletes_only_that_token(api, user):
    phone = login(api, device_name="phone").json()["token"]
    tablet = login(api, device_name="tablet").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {phone}")
    response = api.post(LOGOUT)
    assert response.status_code == 204
    assert api.get(PROFILE).status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Token {tablet}")
    assert api.get(PROFILE).status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_REVOKED, user=user).count() == 1


def test_logout_without_token_is_401(api, user):
    assert api.post(LOGOUT).status_code == 401
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert api.post(LOGOUT).status_code == 401


def test_logout_with_session_is_401_not_a_silent_success(user):
    from tests.conftest import session_client

    assert session_client(user).post(LOGOUT).status_code == 401


@pytest.mark.parametrize("device_name", ["x" * 101, ["list"], "bad\x00name"])
def test_bad_device_name_is_400_and_issues_nothing(api, user, device_name):
    response = login(api, device_name=device_name)
    assert response.status_code == 400
    assert not DeviceToken.objects.exists()


def test_admin_lists_tokens_without_their_secret(user, staff, api):
    login(api)
    staff.is_superuser = True
    staff.save()
    from django.test import Client

    browser = Client()
    browser.force_login(staff)
    page = browser.get("/admin/tokens/devicetoken/")
    assert page.status_code == 200
    digest = DeviceToken.objects.get().digest
    assert digest not in page.content.decode()


def test_token_login_refuses_fields_outside_the_contract(api, user):
    response = login(api, is_staff=True)
    assert response.status_code == 400
    assert response.json() == {"is_staff": ["This field is not allowed."]}
    assert not DeviceToken.objects.exists()
