"""The second step through the API: each first step stops with mfa_required and completes into what it asked for."""

from __future__ import annotations

import jwt
import pytest
import time_machine
from django.conf import settings

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.tokens.jwt.models import JwtFamily
from bouncer.tokens.opaque.models import DeviceToken
from tests.multifactor.conftest import PASSWORD

FIRST_STEPS = {
    "session": ("/api/accounts/login/", {}),
    "token": ("/api/auth-token/", {"device_name": "phone"}),
    "jwt": ("/api/token/", {}),
    "jwt_cookie": ("/api/token/", {"cookie": True}),
}


def first_step(api, way: str, username: str = "alice"):
    url, extra = FIRST_STEPS[way]
    return api.post(url, {"username": username, "password": PASSWORD, **extra}, format="json")


def authenticate(api, token: str, **answer):
    return api.post("/api/auth/mfa/authenticate/", {"mfa_token": token, **answer}, format="json")


@pytest.mark.parametrize("way", sorted(FIRST_STEPS))
def test_first_step_stops_then_a_totp_code_completes_into_what_was_asked(api, totp_user, way):
    user, app = totp_user
    response = first_step(api, way)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "mfa_required" and body["methods"] == ["totp"]
    assert not DeviceToken.objects.exists() and not JwtFamily.objects.exists()

    done = authenticate(api, body["mfa_token"], code=app.now())
    assert done.status_code == 200, done.content
    if way == "session":
        assert done.json() == {"message": "Login successful"}
        assert api.get("/api/accounts/profile/").json()["username"] == "alice"
        assert api.session["bouncer_amr"] == ["pwd", "otp", "mfa"]
    elif way == "token":
        assert done.json()["username"] == "alice" and DeviceToken.objects.get().device_name == "phone"
    elif way == "jwt":
        claims = jwt.decode(done.json()["access"], options={"verify_signature": False})
        assert claims["sub"] == str(user.pk)
    else:
        assert "access" not in done.json()
        assert settings.BOUNCER_JWT["ACCESS_COOKIE"] in done.cookies
    assert AuditEvent.objects.filter(action=AuditAction.MFA_SUCCEEDED, user=user).count() == 1


def test_a_wrong_code_is_400_counts_and_the_token_dies_after_the_attempts(api, totp_user, settings):
    settings.BOUNCER_MFA = {**settings.BOUNCER_MFA, "TOKEN_ATTEMPTS": 3}
    user, app = totp_user
    token = first_step(api, "jwt").json()["mfa_token"]
    for _ in range(3):
        wrong = authenticate(api, token, code="000000" if app.now() != "000000" else "111111")
        assert wrong.status_code == 400 and wrong.json()["code"] == "mfa_code_invalid"
    assert authenticate(api, token, code=app.now()).json()["code"] == "mfa_token_invalid"
    assert not JwtFamily.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.MFA_FAILED, user=user).count() == 3


def test_the_mfa_token_is_single_use_and_a_code_is_not_used_twice(api, totp_user):
    user, app = totp_user
    first = first_step(api, "jwt").json()["mfa_token"]
    code = app.now()
    assert authenticate(api, first, code=code).status_code == 200
    assert authenticate(api, first, code=code).json()["code"] == "mfa_token_invalid"
    second = first_step(api, "jwt").json()["mfa_token"]
    replay = authenticate(api, second, code=code)
    assert replay.status_code == 400 and replay.json()["code"] == "mfa_code_invalid"
    assert JwtFamily.objects.count() == 1


def test_an_expired_mfa_token_is_refused(api, totp_user):
    user, app = totp_user
    with time_machine.travel("2026-12-01 12:00:00", tick=False):
        token = first_step(api, "jwt").json()["mfa_token"]
    with time_machine.travel("2026-12-01 12:05:01", tick=False):
        refused = authenticate(api, token, code=app.now())
    assert refused.status_code == 401 and refused.json()["code"] == "mfa_token_invalid"


def test_a_password_change_in_between_kills_the_mfa_token(api, totp_user):
    user, app = totp_user
    token = first_step(api, "jwt").json()["mfa_token"]
    user.set_password("another-horse-battery-7")
    user.save()
    assert authenticate(api, token, code=app.now()).json()["code"] == "mfa_token_invalid"


def test_a_recovery_code_completes_once(api, totp_user):
    from bouncer.multifactor.recovery import recovery_codes_generate

    user, app = totp_user
    codes = recovery_codes_generate(user=user)
    token = first_step(api, "token").json()["mfa_token"]
    assert authenticate(api, token, code=codes[0].upper()).status_code == 200
    again = first_step(api, "token").json()["mfa_token"]
    assert authenticate(api, again, code=codes[0]).json()["code"] == "mfa_code_invalid"
    assert AuditEvent.objects.filter(action=AuditAction.RECOVERY_CODE_USED, user=user).count() == 1
