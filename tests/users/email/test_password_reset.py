"""Password reset at dj-rest-auth's paths: request, confirm, single use, expiry, revocation, throttles, audit."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import time_machine
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.users.lockout import lockout_remaining
from bouncer.users.models import User
from tests.conftest import CLIENT_FACTORIES, PASSWORD, make_user
from tests.users.email.conftest import mails_to, rates, reset_parts

pytestmark = pytest.mark.django_db

RESET = "/api/auth/password/reset/"
CONFIRM = "/api/auth/password/reset/confirm/"
SENT = {"detail": "Password reset e-mail has been sent."}
DONE = {"detail": "Password has been reset with the new password."}
NEW = "a-brand-new-passphrase-7"


def ask(email: str, client: APIClient | None = None):
    return (client or APIClient()).post(RESET, {"email": email}, format="json")


def confirm(uid: str, token: str, password1: str = NEW, password2: str | None = None, **extra):
    body = {"uid": uid, "token": token, "new_password1": password1, "new_password2": password1 if password2 is None else password2, **extra}
    return APIClient().post(CONFIRM, body, format="json")


def requested(user) -> tuple[str, str]:
    mail.outbox.clear()
    assert ask(user.email).json() == SENT
    [message] = mails_to(user.email)
    return reset_parts(message.body)


def signs_in(username: str, password: str) -> bool:
    return APIClient().post("/api/accounts/login/", {"username": username, "password": password}, format="json").status_code == 200


# --- requesting -------------------------------------------------------------------


def test_reset_for_a_known_address_mails_a_link_and_answers_ok(user):
    response = ask(user.email)
    assert response.status_code == 200 and response.json() == SENT
    [message] = mail.outbox
    assert message.to == [user.email] and "Reset your password" in message.subject
    uid, token = reset_parts(message.body)
    assert uid and token
    assert AuditEvent.objects.filter(action=AuditAction.PASSWORD_RESET_REQUESTED, user=user).count() == 1


def test_reset_for_any_spelling_of_the_address_reaches_the_account(user):
    assert ask("ALICE@Example.com").json() == SENT
    assert [m.to for m in mail.outbox] == [[user.email]]


def test_reset_for_an_unknown_address_answers_the_same_and_sends_a_notice(user):
    known, unknown = ask(user.email), ask("nobody@example.com")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    [notice] = mails_to("nobody@example.com")
    assert "no account" in notice.body and "/accounts/password/reset/" not in notice.body
    event = AuditEvent.objects.filter(action=AuditAction.PASSWORD_RESET_REQUESTED, user=None).get()
    assert event.data == {"account": False}


@override_settings(ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS=False)
def test_reset_for_an_unknown_address_with_notices_off_sends_nothing_and_answers_the_same(user):
    assert ask("nobody@example.com").json() == SENT
    assert mail.outbox == []


def test_reset_for_an_inactive_account_answers_the_same_and_sends_no_link(db):
    dormant = make_user("dormant", is_active=False)
    assert ask(dormant.email).json() == SENT
    assert mail.outbox and all("/accounts/password/reset/" not in m.body for m in mail.outbox)


@pytest.mark.parametrize("body, field", [
    ({}, "email"),
    ({"email": "not-an-address"}, "email"),
    ({"email": 12}, "email"),
    ({"email": "alice@example.com", "is_staff": True}, "is_staff"),
])
def test_reset_with_a_bad_body_is_a_field_error_and_sends_nothing(user, body, field):
    response = APIClient().post(RESET, body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert mail.outbox == []


def test_reset_with_a_frontend_url_template_links_to_the_frontend(user, settings):
    settings.BOUNCER_EMAIL = {**settings.BOUNCER_EMAIL, "FRONTEND_RESET_URL": "https://app.example/reset?uid={uid}&token={token}"}
    ask(user.email)
    [message] = mail.outbox
    assert "https://app.example/reset?uid=" in message.body and "&token=" in message.body
    assert "testserver" not in message.body


def test_reset_cross_site_from_a_browser_is_refused(user):
    response = APIClient().post(RESET, {"email": user.email}, format="json", HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert mail.outbox == []


# --- confirming -------------------------------------------------------------------


def test_confirm_sets_the_password_and_answers_dj_rest_auth_body(user):
    uid, token = requested(user)
    response = confirm(uid, token)
    assert response.status_code == 200 and response.json() == DONE
    assert signs_in("alice", NEW) and not signs_in("alice", PASSWORD)
    assert AuditEvent.objects.filter(action=AuditAction.PASSWORD_RESET_COMPLETED, user=user).count() == 1


def test_confirm_a_second_time_with_the_same_link_is_refused(user):
    uid, token = requested(user)
    assert confirm(uid, token).status_code == 200
    again = confirm(uid, token, "another-passphrase-99")
    assert again.status_code == 400 and again.json()["code"] == "reset_link_invalid"
    assert signs_in("alice", NEW)


def test_confirm_after_the_link_expired_is_refused_and_nothing_changes(user, settings):
    settings.PASSWORD_RESET_TIMEOUT = 3600
    with time_machine.travel(timezone.now(), tick=False) as clock:
        uid, token = requested(user)
        clock.shift(timedelta(seconds=3601))
        response = confirm(uid, token)
    assert response.status_code == 400 and response.json()["code"] == "reset_link_invalid"
    assert signs_in("alice", PASSWORD)


def test_confirm_just_before_the_link_expires_works(user, settings):
    settings.PASSWORD_RESET_TIMEOUT = 3600
    with time_machine.travel(timezone.now(), tick=False) as clock:
        uid, token = requested(user)
        clock.shift(timedelta(seconds=3500))
        assert confirm(uid, token).status_code == 200


def test_confirm_after_a_later_sign_in_is_refused(user):
    """The token covers the last sign-in: a link older than the person's sign-in is void."""
    uid, token = requested(user)
    with time_machine.travel(timezone.now() + timedelta(seconds=5), tick=False):
        assert signs_in("alice", PASSWORD)
        assert confirm(uid, token).json()["code"] == "reset_link_invalid"


def test_confirm_with_the_link_of_another_account_is_refused(user, other_user):
    uid, _ = requested(other_user)
    _, token = requested(user)
    response = confirm(uid, token)
    assert response.status_code == 400 and response.json()["code"] == "reset_link_invalid"
    assert signs_in("alice", PASSWORD) and signs_in("bob", PASSWORD)


@pytest.mark.parametrize("uid, token", [
    ("zzzzzzzz", "abc-def"),
    ("", "x"),
    ("!!", "x"),
    ("1" * 60, "x"),
    ("0", "x"),
    ("-1", "x"),
    ("MTI", "set-password"),
])
def test_confirm_with_a_made_up_link_is_refused_with_one_code(user, uid, token):
    response = confirm(uid, token)
    assert response.status_code == 400
    body = response.json()
    assert body.get("code") == "reset_link_invalid" or set(body) <= {"uid", "token"}
    assert signs_in("alice", PASSWORD)


def test_confirm_with_a_forged_token_is_refused(user):
    uid, token = requested(user)
    forged = token[:-2] + ("aa" if token[-2:] != "aa" else "bb")
    assert confirm(uid, forged).json()["code"] == "reset_link_invalid"
    assert confirm(uid, token).status_code == 200


def test_confirm_with_mismatched_passwords_is_a_field_error_and_keeps_the_link(user):
    uid, token = requested(user)
    response = confirm(uid, token, NEW, NEW + "x")
    assert response.status_code == 400 and "new_password2" in response.json()
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)
    assert confirm(uid, token).status_code == 200


@pytest.mark.parametrize("weak", ["short", "password123", "12345678901", "alice-example"])
def test_confirm_with_a_password_the_validators_refuse_is_a_field_error(user, weak):
    uid, token = requested(user)
    response = confirm(uid, token, weak)
    assert response.status_code == 400 and response.json()["new_password2"]
    assert signs_in("alice", PASSWORD)


@pytest.mark.parametrize("body", [
    {"uid": "x", "token": "y", "new_password1": NEW},
    {"uid": 1, "token": "y", "new_password1": NEW, "new_password2": NEW},
    {"uid": "x", "token": "y", "new_password1": NEW, "new_password2": NEW, "is_superuser": True},
    {"uid": "x" * 65, "token": "y", "new_password1": NEW, "new_password2": NEW},
])
def test_confirm_with_a_bad_body_is_a_field_error(user, body):
    response = APIClient().post(CONFIRM, body, format="json")
    assert response.status_code == 400 and "code" not in response.json()


def test_confirm_marks_the_address_the_link_went_to_as_verified(user):
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
    uid, token = requested(user)
    confirm(uid, token)
    assert EmailAddress.objects.get(user=user).verified


def test_confirm_clears_the_lockout_of_the_account(user, settings):
    settings.BOUNCER_LOCKOUT_ATTEMPTS = 3
    settings.REST_FRAMEWORK = rates()
    for _ in range(3):
        APIClient().post("/api/accounts/login/", {"username": "alice", "password": "wrong-guess-1"}, format="json")
    assert lockout_remaining(username="alice") is not None
    uid, token = requested(user)
    assert confirm(uid, token).status_code == 200
    assert lockout_remaining(username="alice") is None
    assert signs_in("alice", NEW)


def test_confirm_of_a_deactivated_account_is_refused(user):
    uid, token = requested(user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert confirm(uid, token).json()["code"] == "reset_link_invalid"


# --- a reset ends every sign-in ------------------------------------------------------


def _jwt_client(user) -> APIClient:
    response = APIClient().post("/api/token/", {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client, response.json()["refresh"]


def test_reset_revokes_every_credential_of_every_kind(user, settings):
    settings.REST_FRAMEWORK = rates()
    clients = {kind: CLIENT_FACTORIES[kind](user) for kind in ("session", "token", "oauth2")}
    clients["jwt"], refresh = _jwt_client(user)
    for kind, client in clients.items():
        assert client.get("/api/accounts/profile/").status_code == 200, kind
    uid, token = requested(user)
    assert confirm(uid, token).status_code == 200
    for kind, client in clients.items():
        assert client.get("/api/accounts/profile/").status_code == 401, kind
    assert APIClient().post("/api/token/refresh/", {"refresh": refresh}, format="json").status_code == 401
    from bouncer.core.credentials import credential_list_for_user

    assert list(credential_list_for_user(user=User.objects.get(pk=user.pk), request=None)) == []


# --- throttles and audit ---------------------------------------------------------------


def test_reset_requests_for_one_address_are_throttled_known_or_not(user, settings):
    settings.REST_FRAMEWORK = rates(email_send_account="2/hour")
    for email in (user.email, "nobody@example.com"):
        answers = [ask(email, APIClient(REMOTE_ADDR=f"10.0.0.{i}")) for i in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[-1].json()["code"] == "throttled" and int(answers[-1]["Retry-After"]) > 0
    assert len(mails_to(user.email)) == 2


def test_reset_requests_from_one_address_are_throttled(user, settings):
    settings.REST_FRAMEWORK = rates(email_send="2/hour")
    answers = [ask(f"person{i}@example.com") for i in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert "Retry-After" in answers[-1]


def test_reset_confirm_guesses_are_throttled_per_address(user, settings):
    settings.REST_FRAMEWORK = rates(email_confirm="3/hour")
    uid, token = requested(user)
    answers = [confirm(uid, f"guess-{i}").status_code for i in range(3)] + [confirm(uid, token).status_code]
    assert answers == [400, 400, 400, 429]
    assert signs_in("alice", PASSWORD)


def test_reset_confirm_guesses_on_one_account_are_throttled_from_any_address(user, settings):
    settings.REST_FRAMEWORK = rates(email_confirm="2/hour")
    uid, _ = requested(user)
    body = {"uid": uid, "token": "guess", "new_password1": NEW, "new_password2": NEW}
    answers = [APIClient(REMOTE_ADDR=f"10.1.0.{i}").post(CONFIRM, body, format="json").status_code for i in range(3)]
    assert answers == [400, 400, 429]


def test_reset_mail_failure_answers_the_same_and_is_logged(user, settings, caplog):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens on port 9
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    with caplog.at_level(logging.ERROR, logger="bouncer.mail"):
        known, unknown = ask(user.email), ask("nobody@example.com")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (200, SENT)
    assert [r.message for r in caplog.records if r.name == "bouncer.mail"].count("mail_send_failed") == 2
    assert "Traceback" not in known.content.decode()
