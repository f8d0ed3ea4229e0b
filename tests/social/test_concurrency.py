"""Races of social sign-in and unlinking: the database decides, one winner.

Real threads with connections of their own (tests/concurrency.py). Meaningful
on PostgreSQL (CI runs the suite there too); on SQLite writes serialize and
the same outcome must hold.
"""

from __future__ import annotations

import pytest
from allauth.socialaccount.models import SocialAccount
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.social.services import SocialLastSignIn, social_unlink
from bouncer.users.models import User
from tests.concurrency import at_once
from tests.social.recorded import google_claims, id_token

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 10


@pytest.fixture(autouse=True)
def _relaxed_throttles(settings):
    rates = {scope: "1000/min" for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


@pytest.mark.parametrize("email", ["grace@gmail.com", None])
def test_first_signin_of_one_identity_ten_times_at_once_makes_one_user_and_one_link(recorded, email):
    recorded.google_certs()
    bodies = [{"id_token": id_token(google_claims(nonce=f"n{i}", email=email)), "nonce": f"n{i}"} for i in range(THREADS)]

    def signin(body):
        return lambda: APIClient().post("/api/auth/google/", body, format="json").status_code

    statuses = at_once([signin(body) for body in bodies])

    assert statuses == [200] * THREADS
    assert User.objects.count() == 1
    assert SocialAccount.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.USER_REGISTERED).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.SOCIAL_LINKED).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED).count() == THREADS


def test_one_id_token_ten_times_at_once_signs_in_once(recorded):
    recorded.google_certs()
    body = {"id_token": id_token(google_claims(jti=None)), "nonce": "n-0S6_WzA2Mj"}

    statuses = at_once([lambda: APIClient().post("/api/auth/google/", body, format="json").status_code] * THREADS)

    assert sorted(statuses) == [200] + [400] * (THREADS - 1)
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED).count() == 1


def test_concurrent_unlinks_of_the_last_two_providers_of_a_passwordless_user_refuse_one():
    user = User.objects.create_user(username="pat", email="pat@example.com")
    user.set_unusable_password()
    user.save()
    first = SocialAccount.objects.create(user=user, provider="github", uid="1")
    second = SocialAccount.objects.create(user=user, provider="google", uid="2")

    def unlink(account_id):
        def task():
            try:
                social_unlink(request=None, user=user, account_id=account_id)
                return "unlinked"
            except SocialLastSignIn:
                return "refused"
        return task

    outcomes = at_once([unlink(first.pk), unlink(second.pk)] * 3)

    assert outcomes.count("unlinked") == 1
    assert SocialAccount.objects.filter(user=user).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.SOCIAL_UNLINKED).count() == 1
