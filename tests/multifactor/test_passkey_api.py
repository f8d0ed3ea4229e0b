"""Passwordless sign-in with a passkey: POST /api/auth/passkey/begin/, then POST /api/auth/passkey/ with the answer.

The software authenticator (softkey.py) plays the browser and the passkey,
and is as careless as an attacker: other origins, other users' handles,
replays.
"""

from __future__ import annotations

import copy

import jwt
import pytest
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.test import Client, override_settings
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.multifactor import factors
from bouncer.tokens.jwt.models import JwtFamily
from bouncer.tokens.opaque.models import DeviceToken
from bouncer.users.models import User
from tests.multifactor.conftest import make_user, with_totp
from tests.multifactor.pages import ORIGIN, session_amr, signed_in_user
from tests.multifactor.softkey import SoftKey

pytestmark = pytest.mark.django_db

BEGIN = "/api/auth/passkey/begin/"
SIGNIN = "/api/auth/passkey/"


def passkey_for(user, key: SoftKey | None = None) -> SoftKey:
    key = key or SoftKey()
    registration_id, options = factors.webauthn_register_begin(user=user, passwordless=True)
    factors.webauthn_register_complete(request=None, user=user, registration_id=registration_id, credential=key.create(options, ORIGIN), name="Phone")
    user.refresh_from_db()
    return key


@pytest.fixture
def alice(db):
    return make_user("alice")


@pytest.fixture
def key(alice) -> SoftKey:
    return passkey_for(alice)


def begin(api) -> tuple[str, dict]:
    response = api.post(BEGIN, {}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    return body["passkey_token"], body["options"]


def answer(api, token: str, credential: dict, **extra):
    return api.post(SIGNIN, {"passkey_token": token, "credential": credential, **extra}, format="json")


def test_begin_asks_for_any_passkey_with_user_verification(api):
    token, options = begin(api)
    assert token and options["publicKey"]["allowCredentials"] == []
    assert options["publicKey"]["userVerification"] == "required" and options["publicKey"]["rpId"] == "localhost"


@pytest.mark.parametrize("issue", ["session", "token", "jwt", "jwt_cookie"])
def test_a_passkey_alone_signs_in_with_each_credential_kind(api, alice, key, issue):
    extra = {"issue": "jwt", "cookie": True} if issue == "jwt_cookie" else {"issue": issue}
    if issue == "token":
        extra["device_name"] = "tablet"
    token, options = begin(api)
    response = answer(api, token, key.get(options, ORIGIN), **extra)
    assert response.status_code == 200, response.content
    if issue == "session":
        assert response.json() == {"message": "Login successful"}
        assert api.get("/api/accounts/profile/").json()["username"] == "alice"
        assert api.session["bouncer_amr"] == ["swk", "mfa"]
    elif issue == "token":
        assert response.json()["username"] == "alice" and DeviceToken.objects.get(user=alice).device_name == "tablet"
    elif issue == "jwt":
        claims = jwt.decode(response.json()["access"], options={"verify_signature": False})
        assert claims["sub"] == str(alice.pk)
    else:
        assert "access" not in response.json() and settings.BOUNCER_JWT["ACCESS_COOKIE"] in response.cookies
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED, user=alice, method="passkey").count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.MFA_SUCCEEDED, user=alice, method="passkey").count() == 1


def test_the_user_handle_names_the_user_whatever_its_id(api, db):
    """allauth writes the id in base 36 ("10" is user 36): read back the same way, not as a decimal number."""
    make_user("filler")
    user = User.objects.create_user(pk=36, username="carol", email="carol@example.com", password="correct-horse-battery-9")
    key = passkey_for(user)
    token, options = begin(api)
    response = answer(api, token, key.get(options, ORIGIN), issue="token")
    assert response.status_code == 200 and response.json()["username"] == "carol"


def test_a_user_with_another_factor_owes_no_second_step_after_a_passkey(api, alice, key):
    with_totp(alice)
    token, options = begin(api)
    response = answer(api, token, key.get(options, ORIGIN), issue="jwt")
    assert response.status_code == 200 and "access" in response.json()


def refused(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()


def test_an_unknown_user_handle_is_refused(api, alice, key):
    token, options = begin(api)
    body = refused(answer(api, token, key.get(options, ORIGIN, user_handle=b"99999")))
    assert body["code"] == "webauthn_invalid"
    none = refused(answer(api, *begin_get(api, key, user_handle=None)))
    assert none == body
    assert not JwtFamily.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, method="passkey", user=None).count() == 2


def begin_get(api, key, **kwargs) -> tuple[str, dict]:
    token, options = begin(api)
    return token, key.get(options, ORIGIN, **kwargs)


def test_a_passkey_naming_another_user_is_refused(api, alice, key):
    bob = make_user("bob")
    passkey_for(bob)
    # Alice's key signs, but says it is Bob's: Bob's keys do not verify it.
    token, options = begin(api)
    body = refused(answer(api, token, key.get(options, ORIGIN, user_handle=user_pk_to_url_str(bob).encode())))
    assert body["code"] == "webauthn_invalid"
    assert not JwtFamily.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, user=bob, method="passkey").count() == 1


def test_an_answer_made_for_another_origin_or_rp_id_is_refused(api, alice, key):
    token, options = begin(api)
    assert refused(answer(api, token, key.get(options, "https://evil.example")))["code"] == "webauthn_invalid"
    token, options = begin(api)
    assert refused(answer(api, token, key.get(options, ORIGIN, rp_id="evil.example")))["code"] == "webauthn_invalid"
    token, options = begin(api)
    assert refused(answer(api, token, key.get(options, ORIGIN, tamper=True)))["code"] == "webauthn_invalid"
    token, options = begin(api)
    assert refused(answer(api, token, key.get(options, ORIGIN, user_verified=False)))["code"] == "webauthn_invalid"
    assert not JwtFamily.objects.exists()


def test_a_replayed_answer_is_refused(api, alice, key):
    token, options = begin(api)
    assertion = key.get(options, ORIGIN)
    assert answer(api, token, assertion).status_code == 200
    again = answer(api, token, assertion)
    assert again.status_code == 401 and again.json()["code"] == "passkey_token_invalid"
    # The same answer under a new ceremony: its challenge is the old one.
    token, _ = begin(api)
    assert refused(answer(api, token, assertion))["code"] == "webauthn_invalid"
    assert JwtFamily.objects.count() == 1


def test_a_cloned_passkey_is_refused(api, alice, key):
    clone = copy.deepcopy(key)
    token, options = begin(api)
    assert answer(api, token, key.get(options, ORIGIN)).status_code == 200
    token, options = begin(api)
    assert refused(answer(api, token, clone.get(options, ORIGIN)))["code"] == "webauthn_invalid"


def test_a_wrong_answer_spends_the_passkey_token(api, alice, key):
    token, options = begin(api)
    refused(answer(api, token, key.get(options, "https://evil.example")))
    assert answer(api, token, key.get(options, ORIGIN)).json()["code"] == "passkey_token_invalid"


def test_an_inactive_user_is_refused_like_an_unknown_passkey(api, alice, key):
    unknown = refused(answer(api, *begin_get(api, key, user_handle=b"424242")))
    User.objects.filter(pk=alice.pk).update(is_active=False)
    inactive = refused(answer(api, *begin_get(api, key)))
    assert inactive == unknown
    assert not JwtFamily.objects.exists()


@override_settings(BOUNCER_LOCKOUT_ATTEMPTS=1, BOUNCER_LOCKOUT_SECONDS=600)
def test_a_locked_account_stays_locked_for_its_passkey(api, alice, key):
    assert APIClient().post("/api/token/", {"username": "alice", "password": "wrong"}, format="json").status_code == 401
    locked = answer(api, *begin_get(api, key))
    assert locked.status_code == 429 and locked["Retry-After"] == "600"
    assert not JwtFamily.objects.exists()


def test_an_unverified_address_is_refused_when_verification_is_mandatory(api, alice, key):
    from allauth.account.models import EmailAddress

    EmailAddress.objects.update_or_create(user=alice, email=alice.email, defaults={"verified": False, "primary": True})
    with override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory"):
        response = answer(api, *begin_get(api, key))
    assert response.status_code == 403 and response.json()["code"] == "email_unverified"
    assert not JwtFamily.objects.exists()


def test_passkey_sign_ins_are_throttled_per_address(api, alice, key):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "2/min"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        for _ in range(2):
            refused(answer(api, *begin_get(api, key, user_handle=b"424242")))
        throttled = answer(api, *begin_get(api, key))
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) >= 1


def test_a_cross_site_browser_request_is_refused(api, alice, key):
    assert api.post(BEGIN, {}, format="json", HTTP_ORIGIN="https://evil.example").status_code == 403
    token, options = begin(api)
    response = api.post(SIGNIN, {"passkey_token": token, "credential": key.get(options, ORIGIN)}, format="json", HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 403


def test_bad_bodies_are_400(api, alice):
    token, _ = begin(api)
    assert api.post(SIGNIN, {"passkey_token": token, "credential": "nope"}, format="json").status_code == 400
    assert api.post(SIGNIN, {"passkey_token": token, "credential": {}, "issue": "token", "cookie": True}, format="json").status_code == 400
    assert api.post(SIGNIN, {"passkey_token": token, "credential": {}, "is_staff": True}, format="json").status_code == 400
    assert answer(api, "x" * 64, {"id": "x"}).json()["code"] == "passkey_token_invalid"


@override_settings(BOUNCER_MFA={**settings.BOUNCER_MFA, "PASSKEY_LOGIN": False})
def test_passkey_sign_in_off_is_404(api, alice):
    for path in (BEGIN, SIGNIN):
        response = api.post(path, {}, format="json")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert Client().post("/accounts/login/passkey/", {}).status_code == 404
    assert "Sign in with a passkey" not in Client().get("/accounts/login/").content.decode()


# --- the sign-in page's button ------------------------------------------------------


def test_the_sign_in_page_offers_a_passkey_and_its_form_signs_in(alice, key):
    browser = Client()
    page = browser.get("/accounts/login/?next=/accounts/sessions/").content.decode()
    assert "Sign in with a passkey" in page and 'data-begin="/api/auth/passkey/begin/"' in page
    token, options = begin(APIClient())
    import json

    done = browser.post("/accounts/login/passkey/", {"passkey_token": token, "credential": json.dumps(key.get(options, ORIGIN)),
                                                     "next": "/accounts/sessions/"})
    assert done.status_code == 302 and done["Location"] == "/accounts/sessions/"
    assert signed_in_user(browser) == alice and session_amr(browser) == ["swk", "mfa"]
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED, user=alice, method="passkey").count() == 1


def test_the_passkey_form_refuses_with_the_sign_in_page(alice, key):
    import json

    browser = Client()
    token, options = begin(APIClient())
    wrong = browser.post("/accounts/login/passkey/", {"passkey_token": token, "credential": json.dumps(key.get(options, "https://evil.example"))})
    assert wrong.status_code == 400 and "That passkey was not accepted" in wrong.content.decode()
    assert signed_in_user(browser) is None
    again = browser.post("/accounts/login/passkey/", {"passkey_token": token, "credential": json.dumps(key.get(options, ORIGIN))})
    assert again.status_code == 400 and "took too long" in again.content.decode()
    assert browser.post("/accounts/login/passkey/", {}).status_code == 400
    assert browser.get("/accounts/login/passkey/").status_code == 405


@pytest.mark.parametrize("handle", [b"zzzzzzzzzzzzz", b"-1", b"0", b"\x00", "é".encode(), b"1" * 200])
def test_a_user_handle_out_of_any_range_is_refused_not_a_500(api, alice, key, handle):
    refused(answer(api, *begin_get(api, key, user_handle=handle)))


@pytest.mark.parametrize("response", [[], {"userHandle": 5}, {"userHandle": "%%%"}, {"userHandle": None}, "text"])
def test_a_malformed_answer_is_refused_not_a_500(api, alice, response):
    token, _ = begin(api)
    body = answer(api, token, {"id": "x", "rawId": "x", "type": "public-key", "response": response})
    assert body.status_code == 400, body.content


def test_a_passkey_sign_in_clears_the_failed_attempts_like_a_completed_second_step(api, alice, key, settings):
    settings.BOUNCER_LOCKOUT_ATTEMPTS, settings.BOUNCER_LOCKOUT_SECONDS = 3, 600
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login_account": "100/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    password_api = APIClient()
    for _ in range(2):
        assert password_api.post("/api/token/", {"username": "alice", "password": "wrong"}, format="json").status_code == 401
    assert answer(api, *begin_get(api, key)).status_code == 200
    for _ in range(2):
        assert password_api.post("/api/token/", {"username": "alice", "password": "wrong"}, format="json").status_code == 401
    right = password_api.post("/api/token/", {"username": "alice", "password": "correct-horse-battery-9"}, format="json")
    assert right.status_code == 401 and right.json()["code"] == "mfa_required"  # not locked: on to the second step
