"""Step-up: removing a factor, new recovery codes, password change and "sign out everywhere" need a recent
re-verification of a factor with the very credential that asks; users without a factor are unaffected."""

from __future__ import annotations

import json
import re

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.multifactor.models import StepUp
from bouncer.users.models import User
from tests.conftest import PASSWORD, make_user, token_client
from tests.multifactor.clients import MFA, WAYS, enrol_key, enrol_totp, factors, first_step, sign_in, step_up, step_up_with_key
from tests.multifactor.softkey import SoftKey

pytestmark = pytest.mark.django_db

START = "2026-06-01 12:00:00"
NEW_PASSWORD = "another-horse-battery-7"
PASSWORD_CHANGE = "/api/accounts/password/change/"
REVOKE_OTHERS = "/api/accounts/sessions/revoke-others/"


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def alice(db):
    return make_user("alice")


@pytest.fixture(params=WAYS)
def way(request) -> str:
    return request.param


def audit_count(action, user) -> int:
    return AuditEvent.objects.filter(action=action, user=user).count()


def with_app(way, user, clock):
    """A client signed in with ``way`` that set up an authenticator app, time moved to the next window,
    and without the step-up the enrolment granted (``test_a_credential_that_sets_up_a_factor_is_stepped_up``)."""
    from bouncer.multifactor.models import StepUp

    client = sign_in(way, user)
    app, enrolled = enrol_totp(client)
    StepUp.objects.filter(user=user).delete()
    clock.shift(30)
    return client, app, enrolled


def password_still(user, password) -> bool:
    return User.objects.get(pk=user.pk).check_password(password)


# --- the step-up itself --------------------------------------------------------------


def test_a_totp_step_up_lasts_the_configured_seconds_and_is_audited_once(alice, way, clock):
    client, app, _ = with_app(way, alice, clock)
    response = step_up(client, app.now())
    assert response.status_code == 200 and response.json() == {"expires_in": settings.BOUNCER_MFA["STEP_UP_SECONDS"]}
    assert audit_count(AuditAction.STEP_UP, alice) == 1
    assert StepUp.objects.filter(user=alice).count() == 1


def test_a_wrong_or_replayed_code_does_not_step_up_and_counts_as_a_failure(alice, clock):
    client, app, _ = with_app("token", alice, clock)
    wrong = "000000" if app.now() != "000000" else "111111"
    refused = step_up(client, wrong)
    assert refused.status_code == 400 and refused.json()["code"] == "mfa_code_invalid"
    assert step_up(client, app.now()).status_code == 200
    replayed = step_up(client, app.now())  # the same code, the same window
    assert replayed.status_code == 400
    assert audit_count(AuditAction.MFA_FAILED, alice) == 2 and audit_count(AuditAction.STEP_UP, alice) == 1


def test_step_up_codes_are_throttled_and_lock_the_account(alice, clock, settings):
    client, app, _ = with_app("token", alice, clock)
    wrong = "000000" if app.now() != "000000" else "111111"
    statuses = [step_up(client, wrong).status_code for _ in range(12)]
    assert 429 in statuses and not StepUp.objects.exists()
    assert step_up(client, app.now()).status_code == 429  # even the right code, while locked


def test_a_security_key_steps_up_once_per_challenge(alice, way, clock):
    client = sign_in(way, alice)
    key = SoftKey()
    enrol_key(client, key)
    assert step_up_with_key(client, key).status_code == 200
    begun = client.post(f"{MFA}step-up/webauthn/begin/", format="json").json()
    answer = key.get(begun["options"], "http://localhost:8000")
    assert client.post(f"{MFA}step-up/", {"step_up_id": begun["step_up_id"], "credential": answer}, format="json").status_code == 200
    again = client.post(f"{MFA}step-up/", {"step_up_id": begun["step_up_id"], "credential": answer}, format="json")
    assert again.status_code == 400 and again.json()["code"] == "step_up_expired"
    evil = client.post(f"{MFA}step-up/webauthn/begin/", format="json").json()
    wrong_origin = {"step_up_id": evil["step_up_id"], "credential": key.get(evil["options"], "https://evil.example")}
    assert client.post(f"{MFA}step-up/", wrong_origin, format="json").json()["code"] == "webauthn_invalid"
    assert audit_count(AuditAction.STEP_UP, alice) == 2


def test_a_recovery_code_steps_up_and_is_spent(alice, clock):
    client = sign_in("jwt", alice)
    _, enrolled = enrol_totp(client)
    code = enrolled["recovery_codes"][0]
    assert step_up(client, code).status_code == 200
    assert step_up(client, code).status_code == 400
    assert [f["recovery_codes_left"] for f in factors(client) if f["type"] == "recovery_codes"] == [9]


@pytest.mark.parametrize(
    "body",
    [{}, {"code": ""}, {"code": "123456", "step_up_id": "x"}, {"step_up_id": "x"}, {"credential": {}}, {"code": "1", "mfa_token": "x"}],
    ids=["empty", "blank", "both", "id_only", "credential_only", "mfa_token"],
)
def test_a_step_up_body_that_is_not_one_answer_is_400_and_counts_nothing(alice, clock, body):
    client, _, _ = with_app("token", alice, clock)
    refused = client.post(f"{MFA}step-up/", body, format="json")
    assert refused.status_code == 400
    assert audit_count(AuditAction.MFA_FAILED, alice) == 0


def test_without_a_factor_there_is_nothing_to_step_up_with(alice, clock):
    client = sign_in("token", alice)
    refused = step_up(client, "123456")
    assert refused.status_code == 400 and refused.json()["code"] == "mfa_not_enabled"
    assert client.post(f"{MFA}step-up/webauthn/begin/", format="json").json()["code"] == "mfa_not_enabled"
    assert audit_count(AuditAction.MFA_FAILED, alice) == 0


# --- what it guards: removing a factor ------------------------------------------------


def test_removing_a_factor_needs_a_step_up_then_works_once(alice, way, clock):
    client, app, enrolled = with_app(way, alice, clock)
    refused = client.delete(f"{MFA}factors/{enrolled['id']}/")
    assert refused.status_code == 403 and refused.json()["code"] == "step_up_required"
    assert Authenticator.objects.filter(pk=enrolled["id"]).exists()
    assert step_up(client, app.now()).status_code == 200
    assert client.delete(f"{MFA}factors/{enrolled['id']}/").status_code == 204
    assert factors(client) == []  # the last factor: its recovery codes went with it
    assert audit_count(AuditAction.MFA_REMOVED, alice) == 1
    _, signed_in = first_step(way, alice)
    assert signed_in.status_code == 200  # no second step any more


def test_a_step_up_expires_after_the_configured_seconds(alice, clock):
    client, app, enrolled = with_app("jwt", alice, clock)
    assert step_up(client, app.now()).status_code == 200
    seconds = settings.BOUNCER_MFA["STEP_UP_SECONDS"]
    clock.shift(seconds + 1)
    client = sign_in("jwt", alice, code=app.now())  # a fresh access token: the old one has expired too
    # A new sign-in is a new credential: it has not stepped up.
    assert client.delete(f"{MFA}factors/{enrolled['id']}/").json()["code"] == "step_up_required"


def test_the_same_credential_after_the_window_must_step_up_again(alice, clock):
    client, app, enrolled = with_app("token", alice, clock)
    assert step_up(client, app.now()).status_code == 200
    clock.shift(settings.BOUNCER_MFA["STEP_UP_SECONDS"] - 1)
    key = SoftKey()
    enrol_key(client, key)  # inside the window; setting up a key is a proof too: the window starts again
    clock.shift(settings.BOUNCER_MFA["STEP_UP_SECONDS"] + 1)
    refused = client.delete(f"{MFA}factors/{enrolled['id']}/")
    assert refused.status_code == 403 and refused.json()["code"] == "step_up_required"
    assert step_up_with_key(client, key).status_code == 200
    assert client.delete(f"{MFA}factors/{enrolled['id']}/").status_code == 204


def test_a_step_up_of_my_session_does_not_count_for_my_token(alice, clock):
    token = sign_in("token", alice)
    session, app, enrolled = with_app("session", alice, clock)
    assert step_up(session, app.now()).status_code == 200
    refused = token.delete(f"{MFA}factors/{enrolled['id']}/")
    assert refused.status_code == 403 and refused.json()["code"] == "step_up_required"
    assert token.post(f"{MFA}recovery-codes/").status_code == 403
    assert Authenticator.objects.filter(pk=enrolled["id"]).exists()


def test_a_jwt_step_up_holds_across_a_refresh_of_the_same_sign_in(alice, clock):
    _, first = first_step("jwt", alice)
    pair = first.json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    app, enrolled = enrol_totp(client)
    clock.shift(30)
    assert step_up(client, app.now()).status_code == 200
    refreshed = APIClient().post("/api/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert refreshed.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
    assert client.delete(f"{MFA}factors/{enrolled['id']}/").status_code == 204


def test_the_last_factor_of_staff_is_kept_when_mfa_is_required_for_staff(db, clock, settings):
    carol = make_user("carol", is_staff=True)
    client, app, enrolled = with_app("token", carol, clock)
    settings.BOUNCER_MFA = {**settings.BOUNCER_MFA, "REQUIRED": "staff"}
    assert step_up(client, app.now()).status_code == 200
    refused = client.delete(f"{MFA}factors/{enrolled['id']}/")
    assert refused.status_code == 409 and refused.json()["code"] == "last_factor_required"
    assert Authenticator.objects.filter(pk=enrolled["id"]).exists() and audit_count(AuditAction.MFA_REMOVED, carol) == 0
    key = enrol_key(client, SoftKey())
    assert client.delete(f"{MFA}factors/{enrolled['id']}/").status_code == 204  # another one is left
    assert client.delete(f"{MFA}factors/{key['id']}/").status_code == 409
    # Recovery codes are a backup, not a factor: they go freely.
    codes = next(f for f in factors(client) if f["type"] == "recovery_codes")
    assert client.delete(f"{MFA}factors/{codes['id']}/").status_code == 204


# --- recovery codes -------------------------------------------------------------------


def test_new_recovery_codes_need_a_step_up_and_kill_the_old_ones(alice, clock):
    client, app, enrolled = with_app("session", alice, clock)
    old = enrolled["recovery_codes"]
    refused = client.post(f"{MFA}recovery-codes/")
    assert refused.status_code == 403 and refused.json()["code"] == "step_up_required"
    assert step_up(client, app.now()).status_code == 200
    fresh = client.post(f"{MFA}recovery-codes/")
    assert fresh.status_code == 200
    new = fresh.json()["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    assert audit_count(AuditAction.RECOVERY_CODES_GENERATED, alice) == 2  # the first set, then this one

    _, stopped = first_step("jwt", alice)
    dead = APIClient().post(f"{MFA}authenticate/", {"mfa_token": stopped.json()["mfa_token"], "code": old[0]}, format="json")
    assert dead.status_code == 400 and dead.json()["code"] == "mfa_code_invalid"
    clock.shift(60)  # past the per-account sign-in throttle (5 a minute)
    assert sign_in("jwt", alice, code=new[0]).get("/api/accounts/profile/").status_code == 200


# --- password change and "sign out everywhere" ------------------------------------------


def test_password_change_of_a_user_with_a_factor_needs_a_step_up(alice, way, clock):
    client, app, _ = with_app(way, alice, clock)
    body = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
    refused = client.post(PASSWORD_CHANGE, body, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "step_up_required"
    assert password_still(alice, PASSWORD)
    assert step_up(client, app.now()).status_code == 200
    assert client.post(PASSWORD_CHANGE, body, format="json").status_code == 200
    assert password_still(alice, NEW_PASSWORD)


def test_a_browser_steps_up_again_after_its_password_change_renewed_the_session(alice, clock):
    client, app, _ = with_app("session", alice, clock)
    assert step_up(client, app.now()).status_code == 200
    assert client.post(PASSWORD_CHANGE, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json").status_code == 200
    client.credentials(HTTP_X_CSRFTOKEN=client.cookies[settings.CSRF_COOKIE_NAME].value)
    assert client.get("/api/accounts/profile/").status_code == 200  # still signed in, under a new session id
    assert client.post(REVOKE_OTHERS).json()["code"] == "step_up_required"


def test_without_a_step_up_the_old_password_is_not_even_tried(alice, clock):
    client, _, _ = with_app("token", alice, clock)
    for _ in range(3):
        refused = client.post(PASSWORD_CHANGE, {"old_password": "guess-1234", "new_password": NEW_PASSWORD}, format="json")
        assert refused.status_code == 403
    assert audit_count(AuditAction.LOGIN_FAILED, alice) == 0


def test_sign_out_everywhere_of_a_user_with_a_factor_needs_a_step_up(alice, way, clock):
    other = token_client(alice)  # another device
    client, app, _ = with_app(way, alice, clock)
    refused = client.post(REVOKE_OTHERS)
    assert refused.status_code == 403 and refused.json()["code"] == "step_up_required"
    assert other.get("/api/accounts/profile/").status_code == 200
    assert step_up(client, app.now()).status_code == 200
    done = client.post(REVOKE_OTHERS)
    assert done.status_code == 200 and done.json()["revoked"] >= 1
    assert other.get("/api/accounts/profile/").status_code == 401
    assert client.get("/api/accounts/profile/").status_code == 200


def test_users_without_a_factor_change_password_and_sign_out_everywhere_as_before(alice, way, clock):
    other = token_client(alice)
    client = sign_in(way, alice)
    assert client.post(REVOKE_OTHERS).status_code == 200
    assert other.get("/api/accounts/profile/").status_code == 401
    assert client.post(PASSWORD_CHANGE, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json").status_code == 200
    assert audit_count(AuditAction.STEP_UP, alice) == 0


# --- the HTML pages (the refusal sends the browser to the step-up page, then back) ------


def page_browser(user):
    """A browser signed in on the HTML sign-in page; the sessions page's CSRF token."""
    browser = Client(enforce_csrf_checks=True)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', browser.get("/accounts/login/").content.decode()).group(1)
    response = browser.post("/accounts/login/", {"csrfmiddlewaretoken": token, "username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    page = browser.get("/accounts/sessions/")
    return browser, re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)


def test_the_sessions_page_signs_out_everywhere_only_after_a_step_up(alice, clock):
    other = token_client(alice)
    browser, csrf = page_browser(alice)
    api = sign_in("jwt", alice)
    app, _ = enrol_totp(api)
    clock.shift(30)
    refused = browser.post("/accounts/sessions/revoke-others/", {"csrfmiddlewaretoken": csrf})
    assert refused.status_code == 302 and refused["Location"] == "/accounts/security/verify/?next=%2Faccounts%2Fsessions%2F"
    assert other.get("/api/accounts/profile/").status_code == 200
    # The browser's own session steps up (the API with its cookie and CSRF token) ...
    stepped = browser.post(f"{MFA}step-up/", json.dumps({"code": app.now()}), content_type="application/json", HTTP_X_CSRFTOKEN=csrf)
    assert stepped.status_code == 200, stepped.content
    # ... and the page then does it.
    done = browser.post("/accounts/sessions/revoke-others/", {"csrfmiddlewaretoken": csrf})
    assert done.status_code == 302
    assert other.get("/api/accounts/profile/").status_code == 401


def test_the_admin_password_change_page_needs_a_step_up(db, clock):
    root = User.objects.create_superuser("root", "root@example.com", PASSWORD)
    api = sign_in("token", root)
    app, _ = enrol_totp(api)
    clock.shift(30)
    # Into the admin with the second factor (the admin refuses a session without it) ...
    browser = Client()
    browser.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert browser.post("/accounts/login/mfa/", {"code": app.now()})["Location"] == "/admin/"
    clock.shift(30)
    # ... the password change still asks for a step-up of this session.
    form = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    refused = browser.post("/admin/password_change/", form)
    assert refused.status_code == 302 and refused["Location"].startswith("/accounts/security/verify/?next=")
    assert password_still(root, PASSWORD)
    assert browser.post(f"{MFA}step-up/", json.dumps({"code": app.now()}), content_type="application/json").status_code == 200
    done = browser.post("/admin/password_change/", form)
    assert done.status_code == 302 and password_still(root, NEW_PASSWORD)


# --- adding a factor to an account that has one ---------------------------------------


def test_a_stolen_credential_cannot_add_its_own_factor_without_a_step_up(alice, way, clock):
    """A thief with the user's token (or session) must not plant a passkey or a second TOTP app for later."""
    from allauth.mfa.models import Authenticator

    from tests.multifactor.softkey import SoftKey

    client, app, _ = with_app(way, alice, clock)
    before = Authenticator.objects.filter(user=alice).count()
    refused = client.post(f"{MFA}webauthn/register/begin/", {"passwordless": True}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "step_up_required"
    assert Authenticator.objects.filter(user=alice).count() == before
    assert client.post(f"{MFA}step-up/", {"code": app.now()}, format="json").status_code == 200
    enrol_key(client, SoftKey(), passwordless=True)
    assert Authenticator.objects.filter(user=alice).count() == before + 1


def test_a_credential_that_sets_up_a_factor_is_stepped_up(alice, way):
    """The first factor needs no step-up (nothing to step up with), and a backup key may follow at once."""
    from tests.multifactor.softkey import SoftKey

    client = sign_in(way, alice)
    enrol_totp(client)
    assert enrol_key(client, SoftKey(), name="Backup")["name"] == "Backup"
