"""The Security section of the account pages: factors listed, set up, renamed, removed (with a step-up), recovery codes."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlencode

import pyotp
import pytest
import time_machine
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.test import Client

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.multifactor import factors
from bouncer.multifactor.models import StepUp
from tests.multifactor.conftest import make_user, with_totp
from tests.multifactor.pages import ORIGIN, hidden_value, json_script, text, totp_secret
from tests.multifactor.softkey import SoftKey

pytestmark = pytest.mark.django_db

SECURITY = "/accounts/security/"
VERIFY = "/accounts/security/verify/"


@pytest.fixture
def alice(db):
    return make_user("alice")


@pytest.fixture
def browser(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def add_key(browser: Client, *, kind: str = "passkey", name: str = "Phone", key: SoftKey | None = None):
    key = key or SoftKey()
    page = browser.get("/accounts/security/keys/add/" + (f"?kind={kind}" if kind else ""))
    assert page.status_code == 200
    options = json_script(text(page), "webauthn-create-options")
    data = {"registration_id": hidden_value(text(page), "registration_id"), "name": name,
            "credential": json.dumps(key.create(options, ORIGIN, resident=kind == "passkey"))}
    return browser.post("/accounts/security/keys/add/", data), key, options


def step_up_with(browser: Client, app: pyotp.TOTP, next_url: str = SECURITY):
    return browser.post(VERIFY, {"code": app.now(), "next": next_url})


def test_the_security_page_is_for_signed_in_users_and_linked_from_the_account_pages(browser):
    assert Client().get(SECURITY)["Location"].startswith("/accounts/login/?next=")
    page = browser.get(SECURITY)
    assert page.status_code == 200 and "Set up an authenticator app" in text(page)
    assert f'href="{SECURITY}"' in text(browser.get("/accounts/sessions/"))


def test_setting_up_an_authenticator_app_shows_the_recovery_codes_once(browser, alice):
    page = browser.get("/accounts/security/totp/")
    assert page.status_code == 200 and "<svg" in text(page)
    app = pyotp.TOTP(totp_secret(text(page)))
    setup_id = hidden_value(text(page), "setup_id")
    wrong = browser.post("/accounts/security/totp/", {"setup_id": setup_id, "code": "000000" if app.now() != "000000" else "111111"})
    assert wrong.status_code == 400 and totp_secret(text(wrong)) == app.secret
    done = browser.post("/accounts/security/totp/", {"setup_id": setup_id, "code": app.now()})
    assert done.status_code == 200 and text(done).count("<li><code>") == 10
    alice.refresh_from_db()
    assert alice.mfa_enabled
    listing = text(browser.get(SECURITY))
    assert "Set up an authenticator app" not in listing and "10 of 10 codes left" in listing
    assert "<code>" not in listing  # the codes are never shown again
    again = browser.get("/accounts/security/totp/")
    assert again.status_code == 409 and "already set up" in text(again)


def test_a_passkey_is_added_named_and_renamed(browser, alice):
    done, key, _ = add_key(browser, name="Work laptop")
    assert done.status_code == 200 and "The passkey is set up" in text(done) and text(done).count("<li><code>") == 10
    factor = Authenticator.objects.get(user=alice, type="webauthn")
    listing = text(browser.get(SECURITY))
    assert "Work laptop" in listing and "(passkey)" in listing
    renamed = browser.post(f"/accounts/security/factors/{factor.pk}/rename/", {"name": "Old laptop"})
    assert renamed.status_code == 302
    assert "Old laptop" in text(browser.get(SECURITY))
    second, _, _ = add_key(browser, kind="", name="Blue key", key=SoftKey(attachment="cross-platform"))
    assert second.status_code == 302  # not the first factor: no new recovery codes
    assert "(security key)" in text(browser.get(SECURITY))


def test_a_key_the_browser_answered_for_another_origin_is_refused(browser, alice):
    page = browser.get("/accounts/security/keys/add/?kind=passkey")
    options = json_script(text(page), "webauthn-create-options")
    data = {"kind": "passkey", "registration_id": hidden_value(text(page), "registration_id"), "name": "Phone",
            "credential": json.dumps(SoftKey().create(options, "https://evil.example"))}
    refused = browser.post("/accounts/security/keys/add/", data)
    assert refused.status_code == 400 and "not accepted" in text(refused)
    assert not Authenticator.objects.filter(user=alice).exists()


def test_removing_a_factor_needs_a_step_up_then_works(browser, alice):
    with time_machine.travel("2026-12-01 12:00:00", tick=False) as clock:
        app = with_totp(alice)
        factor = Authenticator.objects.get(user=alice, type="totp")
        refused = browser.post(f"/accounts/security/factors/{factor.pk}/remove/")
        assert refused.status_code == 302 and refused["Location"] == VERIFY + "?" + urlencode({"next": SECURITY})
        assert Authenticator.objects.filter(pk=factor.pk).exists()
        page = browser.get(refused["Location"])
        assert page.status_code == 200 and "Confirm it is you" in text(page)
        wrong = browser.post(VERIFY, {"code": "000000" if app.now() != "000000" else "111111", "next": SECURITY})
        assert wrong.status_code == 400
        confirmed = step_up_with(browser, app)
        assert confirmed.status_code == 302 and confirmed["Location"] == SECURITY
        removed = browser.post(f"/accounts/security/factors/{factor.pk}/remove/")
        assert removed.status_code == 302 and removed["Location"] == SECURITY
        assert not Authenticator.objects.filter(user=alice).exists()
        assert AuditEvent.objects.filter(action=AuditAction.MFA_REMOVED, user=alice).count() == 1
        # The step-up lasts STEP_UP_SECONDS.
        app = with_totp(alice)
        clock.shift(timedelta(seconds=30))
        step_up_with(browser, app)
        clock.shift(timedelta(seconds=settings.BOUNCER_MFA["STEP_UP_SECONDS"] + 1))
        factor = Authenticator.objects.get(user=alice, type="totp")
        assert browser.post(f"/accounts/security/factors/{factor.pk}/remove/")["Location"].startswith(VERIFY)


def test_a_step_up_with_a_security_key(browser, alice):
    _, key, _ = add_key(browser)
    page = browser.get(VERIFY + "?next=/accounts/security/")
    options = json_script(text(page), "webauthn-get-options")
    data = {"credential": json.dumps(key.get(options, ORIGIN)), "step_up_id": hidden_value(text(page), "step_up_id"), "next": SECURITY}
    assert browser.post(VERIFY, data)["Location"] == SECURITY
    assert StepUp.objects.filter(user=alice).count() == 1


def test_the_last_factor_of_a_user_who_must_have_one_stays(browser, alice, settings):
    app = with_totp(alice)
    step_up_with(browser, app)
    settings.BOUNCER_MFA = {**settings.BOUNCER_MFA, "REQUIRED": "all"}
    factor = Authenticator.objects.get(user=alice, type="totp")
    refused = browser.post(f"/accounts/security/factors/{factor.pk}/remove/")
    assert refused.status_code == 409 and "add another before removing" in text(refused)
    assert Authenticator.objects.filter(pk=factor.pk).exists()


def test_another_users_factor_is_not_found(browser, db):
    bob = make_user("bob")
    with_totp(bob)
    factor = Authenticator.objects.get(user=bob, type="totp")
    assert browser.post(f"/accounts/security/factors/{factor.pk}/remove/").status_code == 404
    assert browser.post(f"/accounts/security/factors/{factor.pk}/rename/", {"name": "x"}).status_code == 404
    assert Authenticator.objects.filter(pk=factor.pk).exists()


def test_new_recovery_codes_need_a_step_up_and_are_shown_once(browser, alice):
    app = with_totp(alice)
    from bouncer.multifactor.recovery import recovery_codes_generate

    old = recovery_codes_generate(user=alice)
    assert browser.post("/accounts/security/recovery-codes/")["Location"].startswith(VERIFY)
    step_up_with(browser, app)
    shown = browser.post("/accounts/security/recovery-codes/")
    assert shown.status_code == 200 and "Your new recovery codes" in text(shown) and old[0] not in text(shown)
    assert shown["Cache-Control"] and "no-store" in shown["Cache-Control"]
    assert not factors.recovery.recovery_code_use(user=alice, code=old[0])


def test_sign_out_everywhere_else_needs_a_step_up_for_a_user_with_a_factor(browser, alice):
    app = with_totp(alice)
    other = Client()
    other.force_login(alice)
    refused = browser.post("/accounts/sessions/revoke-others/")
    assert refused.status_code == 302 and refused["Location"] == VERIFY + "?" + urlencode({"next": "/accounts/sessions/"})
    assert other.get("/accounts/sessions/").status_code == 200
    step_up_with(browser, app, next_url="/accounts/sessions/")
    assert browser.post("/accounts/sessions/revoke-others/")["Location"] == "/accounts/sessions/"
    assert other.get("/accounts/sessions/").status_code == 302


def test_the_step_up_page_of_a_user_without_a_factor_goes_straight_on(browser):
    assert browser.get(VERIFY + "?next=/accounts/sessions/")["Location"] == "/accounts/sessions/"
    assert browser.get(VERIFY + "?next=https://evil.example/")["Location"] == SECURITY


def test_a_step_up_key_answer_to_a_spent_check_asks_again(browser, alice):
    _, key, _ = add_key(browser)
    page = browser.get(VERIFY)
    options = json_script(text(page), "webauthn-get-options")
    data = {"credential": json.dumps(key.get(options, ORIGIN)), "step_up_id": hidden_value(text(page), "step_up_id"), "next": SECURITY}
    assert browser.post(VERIFY, data).status_code == 302
    again = browser.post(VERIFY, {**data, "credential": json.dumps(key.get(options, ORIGIN))})
    assert again.status_code == 400 and "took too long" in text(again)
    assert browser.post(VERIFY, {**data, "step_up_id": "x" * 300}).status_code == 400
