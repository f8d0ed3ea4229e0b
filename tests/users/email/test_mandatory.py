"""Verification ``mandatory``: an unconfirmed account gets no credential on any way in; a taken address is not revealed."""

from __future__ import annotations

import base64

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.core.exceptions import InvalidCredentials
from bouncer.oauth.services import oauth_client_create
from bouncer.tokens.jwt.models import JwtFamily
from bouncer.tokens.opaque.models import DeviceToken
from bouncer.users.models import User, UserSession
from bouncer.users.signin import EmailUnverified, signin_external
from tests.conftest import PASSWORD, make_user
from tests.users.email.conftest import mails_to, verify_key

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("mandatory")]

CODE = "email_unverified"


def registered(username="dora", email="dora@example.com", *, staff=False) -> User:
    response = APIClient().post("/api/accounts/register/", {"username": username, "email": email, "password": PASSWORD}, format="json")
    assert response.status_code == 201, response.content
    user = User.objects.get(username=username)
    if staff:
        User.objects.filter(pk=user.pk).update(is_staff=True)
    return user


def refused_once(user) -> bool:
    rows = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, user=user)
    return rows.count() == 1 and rows.get().data.get("reason") == CODE


def creds(user=None) -> dict:
    return {"username": getattr(user, "username", "dora"), "password": PASSWORD}


# --- every way in refuses ----------------------------------------------------------------


def test_session_api_refuses_an_unconfirmed_account_with_a_stable_code():
    user = registered()
    client = APIClient()
    response = client.post("/api/accounts/login/", creds(), format="json")
    assert response.status_code == 403 and response.json()["code"] == CODE and response.json()["detail"]
    assert client.get("/api/accounts/profile/").status_code == 401
    assert not UserSession.objects.filter(user=user).exists() and refused_once(user)


def test_html_sign_in_page_refuses_an_unconfirmed_account():
    user = registered()
    browser = Client()
    response = browser.post("/accounts/login/", {**creds(), "next": "/accounts/sessions/"})
    assert response.status_code == 403 and b"Confirm your email address" in response.content
    assert browser.get("/accounts/sessions/").status_code == 302  # still signed out
    assert refused_once(user)


def test_oauth_authorize_through_the_html_sign_in_refuses_an_unconfirmed_account():
    registered()
    app, _ = oauth_client_create(name="spa", client_type="public", grant_type="authorization-code", redirect_uris="https://spa.example/cb")
    next_url = f"/o/authorize/?response_type=code&client_id={app.client_id}&redirect_uri=https://spa.example/cb&scope=read"
    browser = Client()
    response = browser.post("/accounts/login/", {**creds(), "next": next_url})
    assert response.status_code == 403
    assert browser.get(next_url).status_code == 302 and "/accounts/login/" in browser.get(next_url)["Location"]


def test_drf_token_login_refuses_an_unconfirmed_account():
    user = registered()
    response = APIClient().post("/api/auth-token/", creds(), format="json")
    assert response.status_code == 403 and response.json()["code"] == CODE
    assert not DeviceToken.objects.filter(user=user).exists() and refused_once(user)


@pytest.mark.parametrize("cookie", [False, True])
def test_jwt_obtain_refuses_an_unconfirmed_account(cookie):
    user = registered()
    response = APIClient().post("/api/token/", {**creds(), "cookie": cookie}, format="json")
    assert response.status_code == 403 and response.json()["code"] == CODE
    assert not response.cookies and not JwtFamily.objects.filter(user=user).exists()


def test_oauth_password_grant_refuses_an_unconfirmed_account_with_invalid_grant():
    user = registered()
    app, secret = oauth_client_create(name="m", client_type="confidential", grant_type="password")
    response = Client().post(
        "/o/token/",
        {"grant_type": "password", **creds(), "scope": "read", "client_id": app.client_id, "client_secret": secret},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_grant" and "Confirm your email" in body["error_description"]
    assert refused_once(user)


def test_admin_login_refuses_an_unconfirmed_staff_account():
    user = registered(staff=True)
    browser = Client()
    response = browser.post("/admin/login/?next=/admin/", creds())
    assert response.status_code == 403
    assert browser.get("/admin/").status_code == 302
    assert refused_once(user)


def test_basic_refuses_an_unconfirmed_account_with_a_stable_code():
    registered()
    raw = base64.b64encode(b"dora:" + PASSWORD.encode()).decode()
    response = APIClient().get("/api/accounts/profile/", HTTP_AUTHORIZATION=f"Basic {raw}")
    assert response.status_code == 401 and response.json()["code"] == CODE


def test_social_sign_in_refuses_an_unconfirmed_account():
    """Social sign-in reaches the flow through signin_external (bouncer/social/services.py)."""
    user = registered()
    with pytest.raises(EmailUnverified):
        signin_external(request=None, user=user, method="social", data={"provider": "github"})
    assert refused_once(user)


def test_a_wrong_password_of_an_unconfirmed_account_is_the_generic_failure():
    """The code comes only after a right password: it tells a stranger nothing."""
    registered()
    response = APIClient().post("/api/accounts/login/", {"username": "dora", "password": "wrong-guess-1"}, format="json")
    assert response.status_code == 400 and response.json() == {"error": "Invalid credentials"}


# --- and lets in once confirmed --------------------------------------------------------------


def test_every_way_in_works_after_the_address_is_confirmed():
    registered()
    [message] = mails_to("dora@example.com")
    assert APIClient().post("/api/auth/registration/verify-email/", {"key": verify_key(message.body)}, format="json").status_code == 200
    assert APIClient().post("/api/accounts/login/", creds(), format="json").status_code == 200
    assert APIClient().post("/api/auth-token/", creds(), format="json").status_code == 200
    assert APIClient().post("/api/token/", creds(), format="json").status_code == 200
    raw = base64.b64encode(b"dora:" + PASSWORD.encode()).decode()
    assert APIClient().get("/api/accounts/profile/", HTTP_AUTHORIZATION=f"Basic {raw}").status_code == 200


def test_a_password_reset_confirms_the_address_and_lets_in():
    from tests.users.email.conftest import reset_parts

    registered()
    mail.outbox.clear()
    APIClient().post("/api/auth/password/reset/", {"email": "dora@example.com"}, format="json")
    uid, token = reset_parts(mail.outbox[0].body)
    body = {"uid": uid, "token": token, "new_password1": "new-passphrase-12", "new_password2": "new-passphrase-12"}
    assert APIClient().post("/api/auth/password/reset/confirm/", body, format="json").status_code == 200
    assert APIClient().post("/api/accounts/login/", {"username": "dora", "password": "new-passphrase-12"}, format="json").status_code == 200


def test_an_account_the_operator_made_signs_in_without_an_address_row():
    """createsuperuser, the admin, bouncer_demo: no primary address row; the operator vouches."""
    make_user("ops")
    assert APIClient().post("/api/accounts/login/", {"username": "ops", "password": PASSWORD}, format="json").status_code == 200


def test_a_stranger_asking_a_reset_for_the_operators_address_does_not_lock_it_out():
    """allauth's reset token adds a non-primary unverified row; that must not make the account 'unconfirmed'."""
    ops = make_user("ops")
    APIClient().post("/api/auth/password/reset/", {"email": ops.email}, format="json")
    assert EmailAddress.objects.filter(user=ops, primary=False, verified=False).exists()
    assert APIClient().post("/api/accounts/login/", {"username": "ops", "password": PASSWORD}, format="json").status_code == 200


def test_social_sign_in_of_a_confirmed_account_is_let_in():
    user = registered()
    EmailAddress.objects.filter(user=user).update(verified=True)
    assert signin_external(request=None, user=user, method="social").complete


def test_an_inactive_account_stays_the_generic_failure_on_social_sign_in():
    user = registered()
    User.objects.filter(pk=user.pk).update(is_active=False)
    with pytest.raises(InvalidCredentials):
        signin_external(request=None, user=User.objects.get(pk=user.pk), method="social")


# --- registering with a taken address ----------------------------------------------------


def test_register_with_a_taken_address_answers_like_a_fresh_one_and_mails_the_owner(user):
    fresh = APIClient().post("/api/accounts/register/", {"username": "dora", "email": "dora@example.com", "password": PASSWORD}, format="json")
    taken = APIClient().post("/api/accounts/register/", {"username": "eve", "email": "ALICE@example.com", "password": PASSWORD}, format="json")
    assert fresh.status_code == taken.status_code == 201
    assert fresh.json() == {"id": None, "username": "dora", "email": "dora@example.com", "is_staff": False}
    assert taken.json() == {"id": None, "username": "eve", "email": "ALICE@example.com", "is_staff": False}
    assert not User.objects.filter(username="eve").exists() and User.objects.filter(email_normalized="alice@example.com").count() == 1
    [notice] = mails_to(user.email)
    assert "Someone tried to sign up" in notice.subject and "/accounts/password/reset/" in notice.body
    [link] = mails_to("dora@example.com")
    assert "/accounts/verify-email/" in link.body
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)


def test_register_with_a_taken_address_still_refuses_a_taken_username_and_a_weak_password(user):
    taken_name = APIClient().post("/api/accounts/register/", {"username": "alice", "email": "new@example.com", "password": PASSWORD}, format="json")
    weak = APIClient().post("/api/accounts/register/", {"username": "eve", "email": user.email, "password": "123"}, format="json")
    assert taken_name.status_code == 400 and "username" in taken_name.json()
    assert weak.status_code == 400 and set(weak.json()) == {"password"}
    assert mail.outbox == []
