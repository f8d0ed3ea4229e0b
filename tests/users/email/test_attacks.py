"""Attacks on the email flows: racing one link twice, a poisoned Host, links outliving an address change."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.users.models import User
from tests.concurrency import at_once
from tests.conftest import PASSWORD, make_user
from tests.users.email.conftest import rates, reset_parts, verify_key

CONFIRM = "/api/auth/password/reset/confirm/"


def _reset_link(user) -> tuple[str, str]:
    mail.outbox.clear()
    APIClient().post("/api/auth/password/reset/", {"email": user.email}, format="json")
    return reset_parts(mail.outbox[0].body)


@pytest.mark.django_db(transaction=True)
def test_one_reset_link_used_twice_at_once_sets_one_password(settings):
    settings.REST_FRAMEWORK = rates()
    user = make_user("alice")
    uid, token = _reset_link(user)
    passwords = ["racing-passphrase-1", "racing-passphrase-2", "racing-passphrase-3", "racing-passphrase-4"]

    def use(password):
        return lambda: APIClient().post(CONFIRM, {"uid": uid, "token": token, "new_password1": password, "new_password2": password}, format="json").status_code

    answers = at_once([use(p) for p in passwords])
    assert sorted(answers) == [200, 400, 400, 400], answers
    winner = passwords[answers.index(200)]
    assert User.objects.get(pk=user.pk).check_password(winner)
    assert AuditEvent.objects.filter(action=AuditAction.PASSWORD_RESET_COMPLETED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_one_verification_key_used_twice_at_once_confirms_once(settings):
    settings.REST_FRAMEWORK = rates()
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    APIClient().post("/api/accounts/register/", {"username": "dora", "email": "dora@example.com", "password": PASSWORD}, format="json")
    key = verify_key(mail.outbox[0].body)
    answers = at_once([lambda: APIClient().post("/api/auth/registration/verify-email/", {"key": key}, format="json").status_code] * 4)
    assert sorted(answers) == [200, 400, 400, 400], answers
    assert AuditEvent.objects.filter(action=AuditAction.EMAIL_VERIFIED).count() == 1


@pytest.mark.django_db
def test_reset_request_with_a_foreign_host_header_is_refused_and_mails_nothing(user):
    """Reset-link poisoning: the link's host comes from the request, so only ALLOWED_HOSTS may be it."""
    response = APIClient().post("/api/auth/password/reset/", {"email": user.email}, format="json", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert mail.outbox == []


@pytest.mark.django_db
def test_reset_link_dies_when_the_account_address_changes(user):
    """The token covers the account's addresses: a link mailed to an old address is void after a change."""
    uid, token = _reset_link(user)
    User.objects.filter(pk=user.pk).update(email="new-alice@example.com", email_normalized="new-alice@example.com")
    response = APIClient().post(CONFIRM, {"uid": uid, "token": token, "new_password1": "x-passphrase-91", "new_password2": "x-passphrase-91"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "reset_link_invalid"


@pytest.mark.django_db
def test_verification_key_of_a_removed_address_is_refused(settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    APIClient().post("/api/accounts/register/", {"username": "dora", "email": "dora@example.com", "password": PASSWORD}, format="json")
    key = verify_key(mail.outbox[0].body)
    EmailAddress.objects.all().delete()
    response = APIClient().post("/api/auth/registration/verify-email/", {"key": key}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "verification_key_invalid"


@pytest.mark.django_db
def test_reset_link_cannot_be_made_from_the_uid_alone(user):
    """The uid is public (base36 of the id); the token is an HMAC under SECRET_KEY."""
    from allauth.account.utils import user_pk_to_url_str

    uid = user_pk_to_url_str(user)
    for token in ("", "0-0", "abc-" + "0" * 32, "set-password"):
        body = {"uid": uid, "token": token or "x", "new_password1": "x-passphrase-91", "new_password2": "x-passphrase-91"}
        assert APIClient().post(CONFIRM, body, format="json").status_code == 400
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)


@pytest.mark.django_db
def test_verifying_an_address_another_account_holds_verified_is_a_clear_400(settings):
    """A provider vouched for the address on another account first: allauth allows one verified row per address."""
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    APIClient().post("/api/accounts/register/", {"username": "dora", "email": "dora@example.com", "password": PASSWORD}, format="json")
    key = verify_key(mail.outbox[0].body)
    other = make_user("gh-user")
    EmailAddress.objects.create(user=other, email="dora@example.com", primary=False, verified=True)
    response = APIClient().post("/api/auth/registration/verify-email/", {"key": key}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "email_verified_elsewhere"
    assert not EmailAddress.objects.get(user__username="dora").verified


@pytest.mark.django_db
def test_reset_of_an_address_verified_on_another_account_still_sets_the_password(settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    APIClient().post("/api/accounts/register/", {"username": "dora", "email": "dora@example.com", "password": PASSWORD}, format="json")
    EmailAddress.objects.create(user=make_user("gh-user"), email="dora@example.com", primary=False, verified=True)
    dora = User.objects.get(username="dora")
    uid, token = _reset_link(dora)
    body = {"uid": uid, "token": token, "new_password1": "x-passphrase-91", "new_password2": "x-passphrase-91"}
    assert APIClient().post(CONFIRM, body, format="json").status_code == 200
    assert User.objects.get(pk=dora.pk).check_password("x-passphrase-91")
