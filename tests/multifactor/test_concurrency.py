"""Races on the second step: the database decides, one sign-in per mfa_token and one use per code.

Real threads with connections of their own (tests/concurrency.py); meant for
PostgreSQL (run with DATABASE_URL), and the same outcome must hold on SQLite.
"""

from __future__ import annotations

import time

import pytest
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.multifactor.recovery import recovery_codes_generate
from tests.concurrency import at_once
from tests.conftest import make_user
from tests.multifactor.conftest import with_totp
from tests.multifactor.ways import AUTHENTICATE, credential_rows, first_step, webauthn_answer, with_webauthn

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 10


@pytest.fixture(autouse=True)
def _relaxed(settings):
    rates = {scope: "1000/min" for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    settings.BOUNCER_LOCKOUT_ATTEMPTS = 1000


def token_of(user, way: str = "jwt") -> str:
    response = first_step(APIClient(), way, user)
    assert response.status_code == 401, response.content
    return response.json()["mfa_token"]


def post(body: dict):
    return lambda: APIClient().post(AUTHENTICATE, body, format="json").status_code


@pytest.mark.parametrize("way", ["jwt", "token", "session"])
def test_one_mfa_token_and_code_ten_times_at_once_issues_one_credential(way):
    user = make_user("alice")
    app = with_totp(user)
    token = token_of(user, way)

    statuses = at_once([post({"mfa_token": token, "code": app.now()})] * THREADS)

    assert statuses.count(200) == 1, statuses
    assert all(status in (200, 400, 401) for status in statuses), statuses
    assert sum(credential_rows(user).values()) == 1
    assert AuditEvent.objects.filter(user=user, action=AuditAction.MFA_SUCCEEDED).count() == 1


def test_one_totp_code_on_ten_mfa_tokens_at_once_signs_in_once():
    user = make_user("alice")
    app = with_totp(user)
    tokens = [token_of(user) for _ in range(THREADS)]
    code = app.now()

    statuses = at_once([post({"mfa_token": token, "code": code}) for token in tokens])

    assert sorted(statuses) == [200] + [400] * (THREADS - 1)
    assert credential_rows(user)["jwt"] == 1


def test_one_recovery_code_on_ten_mfa_tokens_at_once_is_used_once():
    user = make_user("alice")
    with_totp(user)
    code = recovery_codes_generate(user=user)[0]
    tokens = [token_of(user, "token") for _ in range(THREADS)]

    statuses = at_once([post({"mfa_token": token, "code": code}) for token in tokens])

    assert sorted(statuses) == [200] + [400] * (THREADS - 1)
    assert credential_rows(user)["token"] == 1
    assert AuditEvent.objects.filter(user=user, action=AuditAction.RECOVERY_CODE_USED).count() == 1


def test_one_webauthn_assertion_ten_times_at_once_signs_in_once():
    user = make_user("alice")
    key = with_webauthn(user)
    token = token_of(user)
    assertion = webauthn_answer(APIClient(), token, key)

    statuses = at_once([post({"mfa_token": token, "credential": assertion})] * THREADS)

    assert statuses.count(200) == 1, statuses
    assert credential_rows(user)["jwt"] == 1


def test_guesses_sent_at_once_on_one_token_are_bounded_by_its_attempts(settings):
    settings.BOUNCER_MFA = {**settings.BOUNCER_MFA, "TOKEN_ATTEMPTS": 3}
    user = make_user("alice")
    app = with_totp(user)
    token = token_of(user)
    valid = {app.at(time.time() + offset) for offset in (-60, -30, 0, 30, 60)}
    guesses = [guess for guess in (f"{n:06d}" for n in range(100000, 100100)) if guess not in valid][:THREADS]

    statuses = at_once([post({"mfa_token": token, "code": guess}) for guess in guesses])

    compared = AuditEvent.objects.filter(user=user, action=AuditAction.MFA_FAILED).count()
    assert compared <= 3, (compared, statuses)
    assert statuses.count(401) >= THREADS - 3
    assert credential_rows(user) == {"session": 0, "token": 0, "jwt": 0}
