"""The sessions-and-devices list says how each sign-in was proven: ``amr`` and ``mfa`` per credential,
on GET /api/accounts/sessions/ and on the page /accounts/sessions/, for every way a session is made."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from bouncer.users.models import UserSession
from tests.conftest import PASSWORD, oauth2_client
from tests.multifactor.conftest import make_user, with_totp
from tests.multifactor.signin import mfa_signin, next_step, password_signin

pytestmark = pytest.mark.django_db

SESSIONS = "/api/accounts/sessions/"
MFA_AMR = ["pwd", "otp", "mfa"]


def rows_by_kind(client) -> dict:
    answer = client.get(SESSIONS)
    assert answer.status_code == 200, answer.content
    return {row["kind"]: row for row in answer.json()["results"]}


def test_every_kind_lists_its_amr():
    """Sessions, DRF tokens and JWT sign-ins made through the second step; an OAuth2 authorization records none."""
    user = make_user("alice")
    app = with_totp(user)
    browser = APIClient()
    mfa_signin(browser, user, app, way="session")
    with next_step():  # a TOTP code counts once: the second sign-in gets the next one
        mfa_signin(APIClient(), user, app, way="token")
        rows = rows_by_kind(browser)
    assert rows["session"]["amr"] == MFA_AMR and rows["session"]["mfa"] is True
    assert rows["token"]["amr"] == MFA_AMR and rows["token"]["mfa"] is True


def test_password_sign_ins_list_pwd_and_oauth2_lists_nothing():
    user = make_user("alice")
    browser = APIClient()
    password_signin(browser, user, way="session")
    password_signin(APIClient(), user, way="token")
    password_signin(APIClient(), user, way="jwt")
    oauth2_client(user)
    rows = rows_by_kind(browser)
    for kind in ("session", "token", "jwt"):
        assert rows[kind]["amr"] == ["pwd"] and rows[kind]["mfa"] is False, kind
    assert rows["oauth2"]["amr"] == [] and rows["oauth2"]["mfa"] is False


def test_an_mfa_jwt_sign_in_is_listed_as_such():
    user = make_user("alice")
    access = mfa_signin(APIClient(), user, with_totp(user), way="jwt").json()["access"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    row = rows_by_kind(client)["jwt"]
    assert row["amr"] == MFA_AMR and row["mfa"] is True and row["current"] is True


def test_the_page_shows_the_factors_and_the_two_factor_mark():
    user = make_user("alice")
    browser = APIClient()
    mfa_signin(browser, user, with_totp(user), way="session")
    page = browser.get("/accounts/sessions/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-amr="pwd otp mfa">password + authenticator code</span> <strong>(two-factor)</strong>' in html


def test_the_page_shows_a_password_session_without_the_mark():
    make_user("alice")
    browser = Client()
    browser.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    html = browser.get("/accounts/sessions/").content.decode()
    assert 'data-amr="pwd">password</span>' in html and "(two-factor)" not in html


def test_an_admin_sign_in_is_a_password_session():
    make_user("carol", is_staff=True)
    browser = Client()
    answer = browser.post("/admin/login/", {"username": "carol", "password": PASSWORD, "next": "/admin/"})
    assert answer.status_code == 302
    assert browser.session["bouncer_amr"] == ["pwd"]
    assert UserSession.objects.get().amr == "pwd"


def test_a_social_browser_sign_in_is_a_federated_session():
    from tests.social.browser_support import callback, github, github_app, start

    github_app()
    browser = Client()
    with github():
        assert callback(browser, start(browser)).status_code == 302
    assert browser.session["bouncer_amr"] == ["fed"]
    assert UserSession.objects.get().amr == "fed"
    assert rows_by_kind(browser)["session"]["amr"] == ["fed"]


def test_a_session_from_before_amr_was_kept_lists_pwd():
    user = make_user("alice")
    browser = APIClient()
    password_signin(browser, user, way="session")
    UserSession.objects.update(amr="")  # a row written before the column
    assert rows_by_kind(browser)["session"]["amr"] == ["pwd"]
