"""The linking rules (bouncer/social/services.py), through the API flow."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.tokens.opaque.services import token_issue
from bouncer.users.models import User
from tests.conftest import PASSWORD, session_client
from tests.social.conftest import code_body, social_post
from tests.social.recorded import google_claims, id_token

pytestmark = pytest.mark.django_db

NONCE = "n-0S6_WzA2Mj"


def grace(*, verified_address: bool, password: bool = True) -> User:
    user = User.objects.create_user(username="grace", email="Grace@gmail.com", password=PASSWORD if password else None)
    EmailAddress.objects.create(user=user, email="grace@gmail.com", verified=verified_address, primary=True)
    return user


def google_signin(api, recorded, **claims):
    recorded.google_certs()
    return social_post(api, "google", {"id_token": id_token(google_claims(**claims)), "nonce": NONCE})


def test_verified_email_matching_a_verified_account_links_and_keeps_its_password(api, recorded):
    user = grace(verified_address=True)

    response = google_signin(api, recorded)

    assert response.status_code == 200, response.content
    assert SocialAccount.objects.get().user == user
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    event = AuditEvent.objects.get(action=AuditAction.SOCIAL_LINKED)
    assert event.data == {"provider": "google", "by": "verified_email", "password_disabled": False}


def test_unverified_email_matching_an_account_is_refused_409_and_nothing_changes(api, recorded):
    user = grace(verified_address=True)

    response = google_signin(api, recorded, email_verified=False)

    assert response.status_code == 409
    assert response.json()["code"] == "social_email_taken"
    assert not SocialAccount.objects.exists()
    assert User.objects.count() == 1
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED).data["reason"] == "social_email_taken"


def test_facebook_email_matching_an_account_is_refused_409(api, recorded):
    User.objects.create_user(username="ada", email="ada@example.org", password=PASSWORD)
    recorded.facebook_token()

    response = social_post(api, "facebook", {"access_token": "EAAGm0PX4ZCpsBArecordedUserToken"})

    assert response.status_code == 409
    assert not SocialAccount.objects.exists()


def test_github_unverified_secondary_matching_an_account_does_not_link(api, recorded):
    User.objects.create_user(username="old", email="octo-old@example.com", password=PASSWORD)
    recorded.github_code()

    response = social_post(api, "github", code_body())

    # The verified primary address is new: a new account, not a link to "old".
    assert response.status_code == 200
    assert SocialAccount.objects.get().user.username == "octocat"


def test_verified_email_claiming_a_never_verified_account_disables_its_password_and_ends_the_attackers_credentials(api, recorded):
    # The attacker registered the victim's address first and holds a session and a token.
    attacker_account = grace(verified_address=False)
    attacker_session = session_client(attacker_account)
    attacker_token = APIClient()
    attacker_token.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=attacker_account, request=None).key}")
    pair = APIClient().post("/api/token/", {"username": "grace", "password": PASSWORD}, format="json").json()
    attacker_jwt = APIClient()
    attacker_jwt.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    for client in (attacker_session, attacker_token, attacker_jwt):
        assert client.get("/api/accounts/profile/").status_code == 200

    response = google_signin(api, recorded)

    assert response.status_code == 200
    attacker_account.refresh_from_db()
    assert not attacker_account.has_usable_password()
    assert attacker_session.get("/api/accounts/profile/").status_code in (401, 403)
    assert attacker_token.get("/api/accounts/profile/").status_code == 401
    assert attacker_jwt.get("/api/accounts/profile/").status_code == 401
    assert APIClient().post("/api/token/refresh/", {"refresh": pair["refresh"]}, format="json").status_code == 401
    password_login = APIClient().post("/api/accounts/login/", {"username": "grace", "password": PASSWORD}, format="json")
    assert password_login.status_code == 400
    assert EmailAddress.objects.get(user=attacker_account).verified
    event = AuditEvent.objects.get(action=AuditAction.SOCIAL_LINKED)
    assert event.data["password_disabled"] is True


def test_verified_email_claiming_a_never_verified_account_unlinks_the_attackers_provider(api, recorded):
    # The attacker's own GitHub identity (unverified address) made the account.
    account = grace(verified_address=False, password=False)
    attacker_link = SocialAccount.objects.create(user=account, provider="github", uid="666", extra_data={"login": "attacker"})

    response = google_signin(api, recorded)

    assert response.status_code == 200
    assert not SocialAccount.objects.filter(pk=attacker_link.pk).exists()
    assert list(SocialAccount.objects.values_list("provider", flat=True)) == ["google"]
    unlinked = AuditEvent.objects.get(action=AuditAction.SOCIAL_UNLINKED)
    assert unlinked.data == {"provider": "github", "reason": "address_claimed", "by": "google"}


def test_verified_email_of_an_inactive_account_is_refused_and_not_linked(api, recorded):
    user = grace(verified_address=False)
    user.is_active = False
    user.save()

    response = google_signin(api, recorded)

    assert response.status_code == 401
    assert response.json() == {"error": "Invalid credentials"}  # /api/token/'s generic failure
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not SocialAccount.objects.exists()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_linked_identity_of_an_inactive_user_is_refused(api, recorded):
    google_signin(api, recorded)
    User.objects.update(is_active=False)
    from bouncer.users.usercache import user_cache_invalidate

    user_cache_invalidate(user_id=User.objects.get().pk)
    body = {"id_token": id_token(google_claims(nonce="second")), "nonce": "second", "credential": "token"}

    response = social_post(api, "google", body)

    # The DRF token's answer: /api/auth-token/'s generic failure.
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid credentials"}


def test_locked_account_stays_locked_for_social_signin(api, recorded, settings):
    grace(verified_address=True)
    for _ in range(settings.BOUNCER_LOCKOUT_ATTEMPTS):
        APIClient().post("/api/accounts/login/", {"username": "grace", "password": "wrong-password-1"}, format="json")

    response = google_signin(api, recorded)

    assert response.status_code == 429
    assert response.json()["code"] in ("account_locked", "throttled")
    assert "access" not in response.json()


def test_a_taken_username_gets_a_suffix(api, recorded):
    User.objects.create_user(username="octocat", email="someone@example.com", password=PASSWORD)
    recorded.github_code()

    assert social_post(api, "github", code_body()).status_code == 200

    created = User.objects.exclude(username="octocat").get()
    assert created.username.startswith("octocat") and created.username != "octocat"


def test_a_user_with_a_second_factor_gets_mfa_required_and_no_credential(api, recorded, monkeypatch):
    from bouncer.users import signin

    monkeypatch.setattr(signin, "signin_result", lambda *, user, amr: signin.SignInResult(user=user, pending_steps=("mfa",), amr=amr))

    response = google_signin(api, recorded)

    assert response.status_code == 401
    assert response.json()["code"] == "mfa_required" and response.json()["mfa_token"]
    assert "access" not in response.json()


@pytest.mark.parametrize("flag", ["is_staff", "is_superuser"])
@pytest.mark.parametrize("verified_address", [True, False])
def test_verified_email_matching_a_staff_account_is_refused_409_and_nothing_changes(api, recorded, flag, verified_address):
    """A provider's email is never a way into the admin: staff link a provider themselves, signed in."""
    user = grace(verified_address=verified_address)
    setattr(user, flag, True)
    user.save()
    password_hash = user.password

    response = google_signin(api, recorded)

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "social_email_taken"
    assert not SocialAccount.objects.exists()
    user.refresh_from_db()
    assert user.password == password_hash  # not disabled either
    assert AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED).data["reason"] == "social_email_taken"
