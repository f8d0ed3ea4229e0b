"""Email verification: registration creates the address and mails the link; verify and resend at dj-rest-auth's paths."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.users.models import User
from tests.conftest import PASSWORD, make_user
from tests.users.email.conftest import mails_to, rates, verify_key

pytestmark = pytest.mark.django_db

REGISTER = "/api/accounts/register/"
VERIFY = "/api/auth/registration/verify-email/"
RESEND = "/api/auth/registration/resend-email/"
OK = {"detail": "ok"}


def register(username="dora", email="dora@example.com", password=PASSWORD, client=None):
    return (client or APIClient()).post(REGISTER, {"username": username, "email": email, "password": password}, format="json")


def verify(key: str, client=None):
    return (client or APIClient()).post(VERIFY, {"key": key}, format="json")


def resend(email: str, client=None):
    return (client or APIClient()).post(RESEND, {"email": email}, format="json")


def registered_key(username="dora", email="dora@example.com") -> str:
    mail.outbox.clear()
    assert register(username, email).status_code == 201
    [message] = mails_to(email)
    return verify_key(message.body)


def address(email="dora@example.com") -> EmailAddress:
    return EmailAddress.objects.get(email__iexact=email)


# --- registration ---------------------------------------------------------------------


def test_register_creates_a_primary_unverified_address_and_mails_the_link(optional):
    response = register()
    assert response.status_code == 201 and response.json()["id"] == User.objects.get().pk
    row = address()
    assert row.primary and not row.verified and row.user.username == "dora"
    [message] = mail.outbox
    assert message.to == ["dora@example.com"] and "Confirm your email address" in message.subject
    assert "/accounts/verify-email/" in message.body
    assert AuditEvent.objects.filter(action=AuditAction.EMAIL_VERIFICATION_SENT, user=row.user).count() == 1


@override_settings(ACCOUNT_EMAIL_VERIFICATION="none")
def test_register_with_verification_none_sends_no_mail_but_keeps_the_address():
    assert register().status_code == 201
    assert mail.outbox == [] and not address().verified


def test_register_with_a_taken_address_outside_mandatory_is_still_a_field_error(optional, user):
    response = register(email=user.email)
    assert response.status_code == 400 and "email" in response.json()
    assert mail.outbox == []


def test_verify_link_of_the_frontend_template_carries_the_key(optional, settings):
    settings.BOUNCER_EMAIL = {**settings.BOUNCER_EMAIL, "FRONTEND_VERIFY_URL": "https://app.example/verify/{key}"}
    register()
    [message] = mail.outbox
    assert "https://app.example/verify/" in message.body and "testserver" not in message.body
    key = message.body.split("https://app.example/verify/")[1].split()[0]
    assert verify(key).json() == OK


# --- verify ------------------------------------------------------------------------------


def test_verify_with_the_mailed_key_confirms_the_address(optional):
    key = registered_key()
    response = verify(key)
    assert response.status_code == 200 and response.json() == OK
    assert address().verified
    assert AuditEvent.objects.filter(action=AuditAction.EMAIL_VERIFIED, user=address().user).count() == 1


def test_verify_twice_with_one_key_is_refused_the_second_time(optional):
    key = registered_key()
    assert verify(key).status_code == 200
    again = verify(key)
    assert again.status_code == 400 and again.json()["code"] == "verification_key_invalid"
    assert AuditEvent.objects.filter(action=AuditAction.EMAIL_VERIFIED).count() == 1


def test_verify_after_the_key_expired_is_refused_and_nothing_changes(optional, settings):
    settings.BOUNCER_EMAIL = {**settings.BOUNCER_EMAIL, "VERIFY_SECONDS": 3600}
    with time_machine.travel(timezone.now(), tick=False) as clock:
        key = registered_key()
        clock.shift(timedelta(seconds=3601))
        response = verify(key)
    assert response.status_code == 400 and response.json()["code"] == "verification_key_expired"
    assert not address().verified


def test_verify_just_before_the_key_expires_works(optional, settings):
    settings.BOUNCER_EMAIL = {**settings.BOUNCER_EMAIL, "VERIFY_SECONDS": 3600}
    with time_machine.travel(timezone.now(), tick=False) as clock:
        key = registered_key()
        clock.shift(timedelta(seconds=3500))
        assert verify(key).status_code == 200


@pytest.mark.parametrize("key", ["", "nonsense", "MQ:1abcde:forged", "x" * 200])
def test_verify_with_a_made_up_key_is_refused(optional, key):
    registered_key()
    response = verify(key)
    assert response.status_code == 400
    assert response.json().get("code") == "verification_key_invalid" or "key" in response.json()
    assert not address().verified


def test_verify_with_a_key_signed_for_another_purpose_is_refused(optional):
    """A key must be allauth's confirmation signature (its salt), not any value signed with SECRET_KEY."""
    from django.core import signing

    registered_key()
    forged = signing.dumps(obj=address().pk)  # default salt
    assert verify(forged).json()["code"] == "verification_key_invalid"
    assert not address().verified


@pytest.mark.parametrize("body", [{}, {"key": 5}, {"key": "x", "email": "a@b.c"}])
def test_verify_with_a_bad_body_is_a_field_error(body):
    response = APIClient().post(VERIFY, body, format="json")
    assert response.status_code == 400 and "code" not in response.json()


def test_verify_guesses_are_throttled_per_address(optional, settings):
    settings.REST_FRAMEWORK = rates(email_confirm="2/hour")
    key = registered_key()
    answers = [verify("guess-1").status_code, verify("guess-2").status_code, verify(key)]
    assert answers[:2] == [400, 400] and answers[2].status_code == 429 and "Retry-After" in answers[2]
    assert not address().verified


# --- resend ------------------------------------------------------------------------------


def test_resend_to_an_unconfirmed_address_mails_a_new_working_link(optional):
    registered_key()
    mail.outbox.clear()
    assert resend("DORA@example.com").json() == OK
    [message] = mail.outbox
    assert verify(verify_key(message.body)).status_code == 200


@pytest.mark.parametrize("case", ["unknown", "already_verified", "inactive"])
def test_resend_answers_ok_for_every_other_address_and_sends_nothing(optional, case):
    registered_key()
    if case == "already_verified":
        EmailAddress.objects.update(verified=True)
    if case == "inactive":
        User.objects.update(is_active=False)
    mail.outbox.clear()
    email = "nobody@example.com" if case == "unknown" else "dora@example.com"
    response = resend(email)
    assert response.status_code == 200 and response.json() == OK
    assert mail.outbox == []
    assert AuditEvent.objects.filter(action=AuditAction.EMAIL_VERIFICATION_SENT, user=None).count() == 1


def test_resend_for_one_address_is_throttled_from_any_client(optional, settings):
    settings.REST_FRAMEWORK = rates(email_send_account="2/hour")
    registered_key()
    mail.outbox.clear()
    answers = [resend("dora@example.com", APIClient(REMOTE_ADDR=f"10.2.0.{i}")) for i in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert len(mail.outbox) == 2


def test_resend_with_unknown_fields_is_refused(optional):
    response = resend_raw = APIClient().post(RESEND, {"email": "a@example.com", "username": "x"}, format="json")
    assert response.status_code == 400 and "username" in resend_raw.json()


# --- the OpenID Connect claim --------------------------------------------------------------


def test_oidc_email_verified_claim_follows_the_address(db):
    from tests.oauth.conftest import bearer, make_app
    from tests.oauth.test_oidc import oidc_tokens

    person = make_user("erin")
    app = make_app()
    claims = lambda: bearer(oidc_tokens(person, app, "openid email")["access_token"]).get("/o/userinfo/").json()  # noqa: E731
    assert claims()["email_verified"] is False  # no row: Bouncer never checked it
    EmailAddress.objects.create(user=person, email=person.email, primary=True, verified=False)
    assert claims()["email_verified"] is False
    EmailAddress.objects.update(verified=True)
    assert claims()["email_verified"] is True
