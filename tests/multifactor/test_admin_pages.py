"""The admin is no way around the second step: its login is the sign-in page, its site wants an MFA-verified session."""

from __future__ import annotations

from urllib.parse import urlencode

import pyotp
import pytest
from django.conf import settings
from django.test import Client, override_settings

from bouncer.audit.models import AuditAction, AuditEvent
from tests.multifactor.conftest import make_user, with_totp
from tests.multifactor.pages import hidden_value, session_amr, sign_in, signed_in_user, text, totp_secret

pytestmark = pytest.mark.django_db

CODE_PAGE = "/accounts/login/mfa/"
ENROL_PAGE = "/accounts/login/mfa/enrol/"
TO_SIGN_IN = "/accounts/login/?" + urlencode({"next": "/admin/"})


def mfa(required: str):
    return override_settings(BOUNCER_MFA={**settings.BOUNCER_MFA, "REQUIRED": required})


def admin_reached(browser: Client) -> bool:
    response = browser.get("/admin/")
    return response.status_code == 200 and "Site administration" in text(response)


def test_the_admin_login_page_is_the_sign_in_page(db):
    response = Client().get("/admin/login/?next=/admin/users/user/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?" + urlencode({"next": "/admin/users/user/"})
    assert Client().get("/admin/login/")["Location"] == TO_SIGN_IN
    # An address of another site is never followed.
    assert Client().get("/admin/login/?next=https://evil.example/")["Location"] == TO_SIGN_IN


def test_a_staff_user_without_a_factor_signs_in_to_the_admin_as_before(db):
    make_user("root", is_staff=True)
    browser = Client()
    response = browser.post("/admin/login/?next=/admin/", {"username": "root", "password": "correct-horse-battery-9"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert admin_reached(browser)
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED, method="admin").count() == 1


def test_a_staff_user_with_a_factor_needs_the_code_for_the_admin(db):
    staff = make_user("root", is_staff=True)
    app = with_totp(staff)
    browser = Client()
    response = browser.post("/admin/login/", {"username": "root", "password": "correct-horse-battery-9", "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == CODE_PAGE
    assert signed_in_user(browser) is None and not admin_reached(browser)
    assert browser.post(CODE_PAGE, {"code": app.now()})["Location"] == "/admin/"
    assert session_amr(browser) == ["pwd", "otp", "mfa"]
    assert admin_reached(browser)


def test_a_session_without_the_second_factor_is_refused_by_the_admin(db):
    """A session made without the code (before the factor was added, or any way that skipped it)."""
    staff = make_user("root", is_staff=True)
    browser = Client()
    browser.force_login(staff)
    assert admin_reached(browser)
    with_totp(staff)
    refused = browser.get("/admin/")
    assert refused.status_code == 302 and refused["Location"].startswith("/admin/login/")
    to_sign_in = browser.get(refused["Location"])
    assert to_sign_in.status_code == 302 and urlsplit_path(to_sign_in["Location"]) == "/accounts/login/"
    assert "sign-in with your second factor" in text(browser.get(to_sign_in["Location"]))
    assert browser.get("/admin/users/user/").status_code == 302
    assert browser.get("/admin/password_change/").status_code == 302


def urlsplit_path(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path


@mfa("staff")
def test_required_for_staff_a_staff_user_without_a_factor_gets_in_only_after_enrolling(db):
    staff = make_user("root", is_staff=True)
    old = Client()
    old.force_login(staff)  # a session from before the policy
    assert not admin_reached(old)

    browser = Client()
    assert sign_in(browser, "root", path="/admin/login/", next_url="/admin/")["Location"] == ENROL_PAGE
    assert signed_in_user(browser) is None and not admin_reached(browser)
    page = browser.get(ENROL_PAGE)
    code = pyotp.TOTP(totp_secret(text(page))).now()
    done = browser.post(ENROL_PAGE, {"action": "totp", "setup_id": hidden_value(text(page), "setup_id"), "code": code})
    assert done.status_code == 200 and 'href="/admin/"' in text(done)
    assert admin_reached(browser)
    assert not admin_reached(old)


@mfa("staff")
def test_required_for_staff_an_ordinary_user_signs_in_without_a_factor(db):
    make_user("bob")
    browser = Client()
    assert sign_in(browser, "bob")["Location"] == settings.LOGIN_REDIRECT_URL


def test_the_admin_password_change_needs_a_step_up_for_a_user_with_a_factor(db):
    staff = make_user("root", is_staff=True)
    app = with_totp(staff)
    browser = Client()
    sign_in(browser, "root", next_url="/admin/")
    browser.post(CODE_PAGE, {"code": app.now()})
    assert admin_reached(browser)
    response = browser.get("/admin/password_change/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/security/verify/?" + urlencode({"next": "/admin/password_change/"})
