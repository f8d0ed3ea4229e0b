"""The HTML sign-in's second step: sign-in page → code page (or enrolment page) → signed in, with amr.

Django's test client is the browser; TOTP codes come from pyotp, security
keys from the software authenticator (softkey.py).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlencode, urlsplit

import pyotp
import pytest
import time_machine
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.test import Client, override_settings

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.multifactor import factors
from bouncer.multifactor.recovery import recovery_codes_generate
from tests.multifactor.conftest import make_user, with_totp
from tests.multifactor.pages import (
    ORIGIN,
    hidden_value,
    json_script,
    pending_token,
    session_amr,
    sign_in,
    signed_in_user,
    text,
    totp_secret,
)
from tests.multifactor.softkey import SoftKey
from tests.oauth.conftest import REDIRECT, exchange, make_app, pkce_pair

pytestmark = pytest.mark.django_db

CODE_PAGE = "/accounts/login/mfa/"
ENROL_PAGE = "/accounts/login/mfa/enrol/"


def other_code(app: pyotp.TOTP) -> str:
    return "000000" if app.now() != "000000" else "111111"


def mfa(required: str):
    return override_settings(BOUNCER_MFA={**settings.BOUNCER_MFA, "REQUIRED": required})


def rates(**overrides):
    return {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **overrides}}


# --- a user with an authenticator app --------------------------------------------------


def test_the_password_leads_to_the_code_page_and_the_code_signs_in_with_amr(totp_user):
    user, app = totp_user
    browser = Client()
    response = sign_in(browser, next_url="/accounts/sessions/")
    assert response.status_code == 302 and response["Location"] == CODE_PAGE
    assert signed_in_user(browser) is None  # nothing signed in between the two steps
    assert browser.get("/accounts/sessions/").status_code == 302

    page = browser.get(CODE_PAGE)
    assert page.status_code == 200 and "Confirm it is you" in text(page) and "alice" in text(page)
    assert 'autocomplete="one-time-code"' in text(page)
    assert pending_token(browser) not in text(page)  # the mfa_token never reaches the page
    assert "Use your security key" not in text(page)  # no key: no key button

    done = browser.post(CODE_PAGE, {"code": app.now()})
    assert done.status_code == 302 and done["Location"] == "/accounts/sessions/"
    assert signed_in_user(browser) == user
    assert session_amr(browser) == ["pwd", "otp", "mfa"]
    assert pending_token(browser) is None
    assert browser.get("/accounts/sessions/").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.MFA_SUCCEEDED, user=user).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED, user=user, method="session").count() == 1


def test_a_wrong_code_is_a_400_page_with_the_form_again(totp_user):
    user, app = totp_user
    browser = Client()
    sign_in(browser)
    wrong = browser.post(CODE_PAGE, {"code": other_code(app)})
    assert wrong.status_code == 400
    assert "That code is not correct" in text(wrong) and 'name="code"' in text(wrong)
    assert signed_in_user(browser) is None
    empty = browser.post(CODE_PAGE, {"code": ""})
    assert empty.status_code == 400 and "Enter the code" in text(empty)
    assert browser.post(CODE_PAGE, {"code": app.now()}).status_code == 302
    assert signed_in_user(browser) == user
    assert AuditEvent.objects.filter(action=AuditAction.MFA_FAILED, user=user).count() == 1


def test_a_recovery_code_signs_in_once(totp_user):
    user, app = totp_user
    codes = recovery_codes_generate(user=user)
    browser = Client()
    sign_in(browser)
    assert "recovery codes" in text(browser.get(CODE_PAGE))
    assert browser.post(CODE_PAGE, {"code": codes[0]}).status_code == 302
    assert signed_in_user(browser) == user and session_amr(browser) == ["pwd", "otp", "mfa"]
    again = Client()
    sign_in(again)
    assert again.post(CODE_PAGE, {"code": codes[0]}).status_code == 400


def test_an_expired_sign_in_goes_back_to_the_sign_in_page_with_a_message(totp_user):
    user, app = totp_user
    browser = Client()
    with time_machine.travel("2026-12-01 12:00:00", tick=False) as clock:
        sign_in(browser, next_url="/accounts/sessions/")
        clock.shift(settings.BOUNCER_MFA["TOKEN_SECONDS"] + 1)
        expired = browser.post(CODE_PAGE, {"code": app.now()})
    assert expired.status_code == 302
    assert expired["Location"] == "/accounts/login/?" + urlencode({"next": "/accounts/sessions/"})
    page = browser.get(expired["Location"])
    assert "This sign-in has expired" in text(page)
    assert signed_in_user(browser) is None and pending_token(browser) is None
    assert browser.get(CODE_PAGE)["Location"] == "/accounts/login/"


def test_the_last_wrong_code_a_sign_in_takes_sends_back_to_the_sign_in_page(totp_user, settings):
    settings.BOUNCER_MFA = {**settings.BOUNCER_MFA, "TOKEN_ATTEMPTS": 2}
    user, app = totp_user
    browser = Client()
    sign_in(browser)
    assert browser.post(CODE_PAGE, {"code": other_code(app)}).status_code == 400
    last = browser.post(CODE_PAGE, {"code": other_code(app)})
    assert last.status_code == 302 and last["Location"] == "/accounts/login/"
    assert "Too many wrong codes" in text(browser.get("/accounts/login/"))
    assert signed_in_user(browser) is None


def test_codes_are_throttled_with_the_429_page(totp_user):
    user, app = totp_user
    browser = Client()
    sign_in(browser)
    with override_settings(REST_FRAMEWORK=rates(mfa="2/min")):
        for _ in range(2):
            assert browser.post(CODE_PAGE, {"code": other_code(app)}).status_code == 400
        refused = browser.post(CODE_PAGE, {"code": app.now()})
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert "Too many sign-in attempts" in text(refused)
    assert signed_in_user(browser) is None


def test_wrong_codes_lock_the_account_with_the_429_page(totp_user, settings):
    # All through the fixture: mixed with an override_settings decorator, its undo order leaks settings into later tests.
    settings.BOUNCER_LOCKOUT_ATTEMPTS, settings.BOUNCER_LOCKOUT_SECONDS = 2, 600
    settings.BOUNCER_MFA = {**settings.BOUNCER_MFA, "TOKEN_ATTEMPTS": 10}
    user, app = totp_user
    browser = Client()
    sign_in(browser)
    for _ in range(2):
        assert browser.post(CODE_PAGE, {"code": other_code(app)}).status_code == 400
    locked = browser.post(CODE_PAGE, {"code": app.now()})
    assert locked.status_code == 429 and locked["Retry-After"] == "600"
    assert signed_in_user(browser) is None
    assert sign_in(Client()).status_code == 429  # the password too: one lockout for every step


def test_the_code_page_without_a_sign_in_goes_to_the_sign_in_page(db):
    assert Client().get(CODE_PAGE)["Location"] == "/accounts/login/"
    assert Client().post(CODE_PAGE, {"code": "123456"})["Location"] == "/accounts/login/"
    assert Client().get(ENROL_PAGE)["Location"] == "/accounts/login/"


def test_a_user_without_a_factor_signs_in_at_once(db):
    make_user("bob")
    browser = Client()
    response = sign_in(browser, "bob")
    assert response.status_code == 302 and response["Location"] == settings.LOGIN_REDIRECT_URL
    assert session_amr(browser) == ["pwd"]


def test_a_security_key_answers_the_code_page(db):
    user = make_user("alice")
    key = SoftKey(attachment="cross-platform")
    registration_id, options = factors.webauthn_register_begin(user=user, passwordless=False)
    factors.webauthn_register_complete(request=None, user=user, registration_id=registration_id, credential=key.create(options, ORIGIN), name="Blue key")
    browser = Client()
    sign_in(browser)
    page = browser.get(CODE_PAGE)
    assert "Use your security key" in text(page) and "Recovery code" in text(page)
    assert '<script id="webauthn-get-options" type="application/json">' in text(page)
    assert '<script src="/static/multifactor/webauthn.js" defer></script>' in text(page)
    options = json_script(text(page), "webauthn-get-options")
    wrong_origin = browser.post(CODE_PAGE, {"credential": json.dumps(key.get(options, "https://evil.example"))})
    assert wrong_origin.status_code == 400 and "was not accepted" in text(wrong_origin)
    options = json_script(text(wrong_origin), "webauthn-get-options")
    done = browser.post(CODE_PAGE, {"credential": json.dumps(key.get(options, ORIGIN))})
    assert done.status_code == 302
    assert signed_in_user(browser) == user and session_amr(browser) == ["pwd", "hwk", "mfa"]


def test_signing_in_again_replaces_a_sign_in_left_at_its_code_page(totp_user):
    user, app = totp_user
    make_user("bob")
    browser = Client()
    sign_in(browser)
    assert sign_in(browser, "bob").status_code == 302
    assert pending_token(browser) is None and signed_in_user(browser).username == "bob"
    assert browser.get(CODE_PAGE)["Location"] == "/accounts/login/"


# --- OAuth2: the code page comes before the consent page -----------------------------


def test_authorize_sign_in_code_consent_then_token(totp_user):
    user, app = totp_user
    client = make_app("authorization-code")
    verifier, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": client.client_id, "redirect_uri": REDIRECT, "scope": "read",
              "state": "st4te", "code_challenge": challenge, "code_challenge_method": "S256"}
    browser = Client()
    to_login = browser.get("/o/authorize/", params)
    assert to_login.status_code == 302 and urlsplit(to_login["Location"]).path == "/accounts/login/"
    next_url = parse_qs(urlsplit(to_login["Location"]).query)["next"][0]
    assert sign_in(browser, next_url=next_url)["Location"] == CODE_PAGE
    # No consent page before the code.
    assert urlsplit(browser.get("/o/authorize/", params)["Location"]).path == "/accounts/login/"
    after_code = browser.post(CODE_PAGE, {"code": app.now()})
    assert after_code.status_code == 302 and after_code["Location"] == next_url
    consent = browser.get(next_url)
    assert consent.status_code == 200 and 'id="authorizationForm"' in text(consent)
    redirected = browser.post("/o/authorize/", {**params, "allow": "Authorize"})
    assert redirected.status_code == 302 and redirected["Location"].startswith(REDIRECT)
    code = parse_qs(urlsplit(redirected["Location"]).query)["code"][0]
    token = exchange(client, code, verifier)
    assert token.status_code == 200 and token.json()["access_token"]


# --- BOUNCER_MFA_REQUIRED: the enrolment page ----------------------------------------


@mfa("all")
def test_a_user_who_must_have_a_factor_enrols_an_app_then_is_signed_in(db):
    user = make_user("dave")
    browser = Client()
    response = sign_in(browser, "dave", next_url="/accounts/sessions/")
    assert response.status_code == 302 and response["Location"] == ENROL_PAGE
    assert signed_in_user(browser) is None
    assert browser.get(CODE_PAGE)["Location"] == ENROL_PAGE
    assert browser.get("/accounts/sessions/").status_code == 302  # nothing else meanwhile
    assert AuditEvent.objects.filter(action=AuditAction.MFA_MISSING, user=user).count() == 1

    page = browser.get(ENROL_PAGE)
    assert page.status_code == 200 and "must have a second factor" in text(page)
    assert "<svg" in text(page) and "otpauth" not in text(page).split("<svg")[0]
    secret = totp_secret(text(page))
    setup_id = hidden_value(text(page), "setup_id")
    app = pyotp.TOTP(secret)
    wrong = browser.post(ENROL_PAGE, {"action": "totp", "setup_id": setup_id, "code": other_code(app)})
    assert wrong.status_code == 400 and totp_secret(text(wrong)) == secret  # the same code to scan
    assert signed_in_user(browser) is None

    done = browser.post(ENROL_PAGE, {"action": "totp", "setup_id": setup_id, "code": app.now()})
    assert done.status_code == 200 and "Save your recovery codes" in text(done)
    assert text(done).count("<li><code>") == 10
    assert 'href="/accounts/sessions/"' in text(done)
    assert signed_in_user(browser) == user and session_amr(browser) == ["pwd", "otp", "mfa"]
    assert Authenticator.objects.filter(user=user, type="totp").exists()
    assert done["Cache-Control"].startswith("max-age=0") or "no-store" in done["Cache-Control"]


@mfa("all")
def test_a_user_who_must_have_a_factor_can_enrol_a_security_key_instead(db):
    user = make_user("dave")
    browser = Client()
    sign_in(browser, "dave")
    page = browser.get(ENROL_PAGE + "?with=key")
    assert "Add the security key" in text(page)
    options = json_script(text(page), "webauthn-create-options")
    key = SoftKey()
    data = {"action": "webauthn", "registration_id": hidden_value(text(page), "registration_id"), "name": "Laptop",
            "credential": json.dumps(key.create(options, ORIGIN))}
    done = browser.post(ENROL_PAGE, data)
    assert done.status_code == 200 and "Save your recovery codes" in text(done)
    assert signed_in_user(browser) == user and session_amr(browser) == ["pwd", "swk", "mfa"]
    assert factors.factor_get(user=user, factor_id=Authenticator.objects.get(user=user, type="webauthn").pk).data["name"] == "Laptop"


@mfa("all")
def test_an_expired_enrolment_goes_back_to_the_sign_in_page(db):
    make_user("dave")
    browser = Client()
    with time_machine.travel("2026-12-01 12:00:00", tick=False) as clock:
        sign_in(browser, "dave")
        page = browser.get(ENROL_PAGE)
        clock.shift(settings.BOUNCER_MFA["TOKEN_SECONDS"] + 1)
        code = pyotp.TOTP(totp_secret(text(page))).now()
        expired = browser.post(ENROL_PAGE, {"action": "totp", "setup_id": hidden_value(text(page), "setup_id"), "code": code})
    assert expired.status_code == 302 and expired["Location"] == "/accounts/login/"
    assert signed_in_user(browser) is None


# --- social sign-in in the browser, for a user with a factor -------------------------


def test_social_sign_in_of_a_user_with_a_factor_goes_through_the_code_page(db):
    from allauth.socialaccount.models import SocialAccount

    from tests.social.browser_support import callback, github, github_app, start

    github_app()
    user = make_user("octo")
    SocialAccount.objects.create(user=user, provider="github", uid="583231", extra_data={})
    app = with_totp(user)
    browser = Client()
    state = start(browser, next_url="/accounts/sessions/")
    with github():
        response = callback(browser, state)
    assert response.status_code == 302 and response["Location"] == CODE_PAGE
    assert signed_in_user(browser) is None
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED).exists()
    done = browser.post(CODE_PAGE, {"code": app.now()})
    assert done.status_code == 302 and done["Location"] == "/accounts/sessions/"
    assert signed_in_user(browser) == user and session_amr(browser) == ["fed", "otp", "mfa"]
    assert list(AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED).values_list("method", flat=True)) == ["social"]


def test_social_sign_in_without_a_factor_records_fed_in_the_session(db):
    from tests.social.browser_support import callback, github, github_app, start

    github_app()
    browser = Client()
    with github():
        response = callback(browser, start(browser))
    assert response.status_code == 302 and session_amr(browser) == ["fed"]


@mfa("all")
def test_social_sign_in_of_a_user_who_must_enrol_goes_to_the_enrolment_page(db):
    from tests.social.browser_support import callback, github, github_app, start

    github_app()
    browser = Client()
    with github():
        response = callback(browser, start(browser))
    assert response.status_code == 302 and response["Location"] == ENROL_PAGE
    assert signed_in_user(browser) is None
