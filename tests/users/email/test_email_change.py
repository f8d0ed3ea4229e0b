"""Changing the account's address (``PATCH /api/accounts/profile/``, the admin's user form).

The new address becomes allauth's primary ``EmailAddress``, unverified
unless this account had already proved it, and its verification link is
mailed; every rule that reads the verified flag (mandatory mode, the OpenID
Connect claim, social linking, password reset) then looks at the new address.
"""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.core import mail
from django.test import Client, override_settings
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.users.models import User
from tests.conftest import PASSWORD, make_user, session_client
from tests.social.conftest import providers, recorded  # noqa: F401 (fixtures)
from tests.users.email.conftest import mails_to, reset_parts, verify_key

pytestmark = pytest.mark.django_db

PROFILE = "/api/accounts/profile/"
VERIFY = "/api/auth/registration/verify-email/"


def verified_account(username="dora", email="dora@example.com") -> User:
    """An account registered through the API whose address was confirmed by its link."""
    response = APIClient().post("/api/accounts/register/", {"username": username, "email": email, "password": PASSWORD}, format="json")
    assert response.status_code == 201, response.content
    user = User.objects.get(username=username)
    EmailAddress.objects.filter(user=user).update(verified=True)
    mail.outbox.clear()
    return user


def change_email(client, email: str):
    return client.patch(PROFILE, {"email": email}, format="json")


def rows(user) -> list[tuple[str, bool, bool]]:
    """(email, primary, verified) of the account's addresses, by address."""
    return sorted(EmailAddress.objects.filter(user=user).values_list("email", "primary", "verified"))


def oidc_email_claims(user) -> dict:
    from tests.oauth.conftest import bearer, make_app
    from tests.oauth.test_oidc import oidc_tokens

    return bearer(oidc_tokens(user, make_app(), "openid email")["access_token"]).get("/o/userinfo/").json()


# --- the rows and the mail -----------------------------------------------------------------


def test_email_change_makes_the_new_address_primary_unverified_and_mails_its_link(optional):
    user = verified_account()
    client = session_client(user)

    response = change_email(client, "dora.new@example.com")

    assert response.status_code == 200 and response.json()["email"] == "dora.new@example.com"
    assert rows(user) == [("dora.new@example.com", True, False), ("dora@example.com", False, True)]
    [message] = mails_to("dora.new@example.com")
    assert not mails_to("dora@example.com")
    key = verify_key(message.body)
    assert APIClient().post(VERIFY, {"key": key}, format="json").status_code == 200
    assert rows(user)[0] == ("dora.new@example.com", True, True)


def test_email_change_writes_profile_updated_and_verification_sent_once_each(optional):
    user = verified_account()
    AuditEvent.objects.all().delete()

    change_email(session_client(user), "dora.new@example.com")

    events = AuditEvent.objects.filter(user=user).exclude(action__in=[AuditAction.LOGIN_SUCCEEDED])
    assert sorted(events.values_list("action", flat=True)) == sorted([AuditAction.PROFILE_UPDATED, AuditAction.EMAIL_VERIFICATION_SENT])
    assert events.get(action=AuditAction.PROFILE_UPDATED).data == {"fields": ["email"]}
    assert events.get(action=AuditAction.EMAIL_VERIFICATION_SENT).data == {"reason": "email_change"}


def test_email_change_back_to_an_address_this_account_proved_stays_verified_and_mails_nothing(optional):
    user = verified_account()
    client = session_client(user)
    change_email(client, "dora.new@example.com")
    mail.outbox.clear()

    response = change_email(client, "DORA@example.com")

    assert response.status_code == 200
    assert rows(user) == [("dora.new@example.com", False, False), ("dora@example.com", True, True)]
    assert mail.outbox == []
    assert oidc_email_claims(User.objects.get(pk=user.pk))["email_verified"] is True


def test_email_change_with_verification_none_updates_the_rows_and_mails_nothing():
    user = verified_account()
    with override_settings(ACCOUNT_EMAIL_VERIFICATION="none"):
        response = change_email(session_client(user), "dora.new@example.com")
    assert response.status_code == 200
    assert rows(user) == [("dora.new@example.com", True, False), ("dora@example.com", False, True)]
    assert mail.outbox == []
    assert not AuditEvent.objects.filter(action=AuditAction.EMAIL_VERIFICATION_SENT, user=user, data__reason="email_change").exists()


def test_email_change_of_an_operator_made_account_adds_a_primary_row(optional):
    user = make_user("olga")  # no EmailAddress row: made by the operator
    response = change_email(session_client(user), "olga.new@example.com")
    assert response.status_code == 200
    assert rows(user) == [("olga.new@example.com", True, False)]
    assert len(mails_to("olga.new@example.com")) == 1


def test_profile_patch_without_email_leaves_the_rows_and_mails_nothing(optional):
    user = verified_account()
    before = rows(user)
    response = session_client(user).patch(PROFILE, {"first_name": "Dora", "email": "dora@example.com"}, format="json")
    assert response.status_code == 200
    assert rows(user) == before and mail.outbox == []


def test_email_change_to_a_taken_address_is_400_and_changes_nothing(optional):
    user = verified_account()
    verified_account("erin", "erin@example.com")
    before = rows(user)

    response = change_email(session_client(user), "Erin@Example.com")

    assert response.status_code == 400 and "email" in response.json()
    assert User.objects.get(pk=user.pk).email == "dora@example.com"
    assert rows(user) == before and mail.outbox == []
    assert not AuditEvent.objects.filter(user=user, action=AuditAction.PROFILE_UPDATED).exists()


def test_email_change_to_an_address_another_account_proved_leaves_their_row_theirs(optional):
    # erin moved to another address; her old one is still proven on her account.
    victim = verified_account("erin", "erin@example.com")
    change_email(session_client(victim), "erin.new@example.com")
    EmailAddress.objects.filter(user=victim).update(verified=True)
    user = verified_account()
    mail.outbox.clear()

    response = change_email(session_client(user), "erin@example.com")

    assert response.status_code == 200
    assert rows(victim) == [("erin.new@example.com", True, True), ("erin@example.com", False, True)]
    assert ("erin@example.com", True, False) in rows(user)
    key = verify_key(mails_to("erin@example.com")[0].body)
    response = APIClient().post(VERIFY, {"key": key}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "email_verified_elsewhere"
    assert ("erin@example.com", True, False) in rows(user)


# --- attacks: the rules that read the verified flag follow the new address ---------------


def test_email_changed_to_a_victims_address_oidc_claim_is_false(optional):
    user = verified_account("mallory", "mallory@example.com")
    assert oidc_email_claims(user)["email_verified"] is True

    change_email(session_client(user), "victim@example.org")

    claims = oidc_email_claims(User.objects.get(pk=user.pk))
    assert claims["email"] == "victim@example.org" and claims["email_verified"] is False


def test_mandatory_email_change_must_be_confirmed_before_a_new_credential(mandatory):
    user = verified_account()
    client = session_client(user)

    assert change_email(client, "victim@example.org").status_code == 200

    for path, body in [
        ("/api/accounts/login/", {"username": "dora", "password": PASSWORD}),
        ("/api/auth-token/", {"username": "dora", "password": PASSWORD}),
        ("/api/token/", {"username": "dora", "password": PASSWORD}),
    ]:
        response = APIClient().post(path, body, format="json")
        assert response.status_code == 403 and response.json()["code"] == "email_unverified", path
    key = verify_key(mails_to("victim@example.org")[0].body)
    assert APIClient().post(VERIFY, {"key": key}, format="json").status_code == 200
    assert APIClient().post("/api/token/", {"username": "dora", "password": PASSWORD}, format="json").status_code == 200


def test_provider_asserting_the_changed_to_address_claims_the_account(optional, api, recorded):  # noqa: F811 (the fixture)
    from tests.social.test_linking import google_signin

    # mallory proved her own address, then set grace's (never proved by mallory).
    attacker = verified_account("mallory", "mallory@example.com")
    attacker_session = session_client(attacker)
    assert change_email(attacker_session, "grace@gmail.com").status_code == 200

    response = google_signin(api, recorded)

    assert response.status_code == 200, response.content
    attacker.refresh_from_db()
    assert SocialAccount.objects.get().user == attacker
    assert not attacker.has_usable_password()
    assert attacker_session.get(PROFILE).status_code in (401, 403)
    assert AuditEvent.objects.get(action=AuditAction.SOCIAL_LINKED).data["password_disabled"] is True
    assert ("grace@gmail.com", True, True) in rows(attacker)


def test_password_reset_link_for_the_old_address_is_void_after_the_change(optional):
    user = verified_account()
    APIClient().post("/api/auth/password/reset/", {"email": "dora@example.com"}, format="json")
    uid, token = reset_parts(mails_to("dora@example.com")[0].body)

    change_email(session_client(user), "dora.new@example.com")

    body = {"uid": uid, "token": token, "new_password1": "An0ther-long-passphrase", "new_password2": "An0ther-long-passphrase"}
    response = APIClient().post("/api/auth/password/reset/confirm/", body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "reset_link_invalid"
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)


def test_password_reset_after_the_change_goes_to_the_new_address_and_confirms_it(optional):
    user = verified_account()
    change_email(session_client(user), "dora.new@example.com")
    mail.outbox.clear()

    APIClient().post("/api/auth/password/reset/", {"email": "dora@example.com"}, format="json")
    APIClient().post("/api/auth/password/reset/", {"email": "dora.new@example.com"}, format="json")

    for message in mails_to("dora@example.com"):  # the "no account here" notice, no link
        with pytest.raises(AssertionError):
            reset_parts(message.body)
    uid, token = reset_parts(mails_to("dora.new@example.com")[0].body)
    body = {"uid": uid, "token": token, "new_password1": "An0ther-long-passphrase", "new_password2": "An0ther-long-passphrase"}
    assert APIClient().post("/api/auth/password/reset/confirm/", body, format="json").status_code == 200
    assert ("dora.new@example.com", True, True) in rows(user)


# --- the admin's user form ------------------------------------------------------------------


def admin_change(user: User, **fields):
    root = make_user("root", is_staff=True)
    User.objects.filter(pk=root.pk).update(is_superuser=True)
    browser = Client()
    browser.force_login(User.objects.get(pk=root.pk))
    data = {
        "username": user.username, "email": user.email, "first_name": user.first_name, "last_name": user.last_name,
        "is_active": "on", "date_joined_0": user.date_joined.strftime("%Y-%m-%d"), "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        **fields,
    }
    return browser.post(f"/admin/users/user/{user.pk}/change/", data)


def test_admin_email_change_makes_the_new_address_primary_unverified_and_mails_its_link(optional):
    user = verified_account()

    response = admin_change(user, email="dora.new@example.com")

    assert response.status_code == 302, response.content[:3000]
    assert User.objects.get(pk=user.pk).email == "dora.new@example.com"
    assert rows(user) == [("dora.new@example.com", True, False), ("dora@example.com", False, True)]
    assert len(mails_to("dora.new@example.com")) == 1
    event = AuditEvent.objects.get(action=AuditAction.PROFILE_UPDATED, user=user)
    assert "email" in event.data["fields"] and event.data["by"] == "admin"
    assert AuditEvent.objects.filter(action=AuditAction.EMAIL_VERIFICATION_SENT, user=user, data__reason="email_change").count() == 1


def test_admin_email_change_to_a_taken_address_is_a_form_error(optional):
    user = verified_account()
    verified_account("erin", "erin@example.com")
    before = rows(user)

    response = admin_change(user, email="ERIN@example.com")

    assert response.status_code == 200 and b"already exists" in response.content
    assert User.objects.get(pk=user.pk).email == "dora@example.com" and rows(user) == before and mail.outbox == []


def test_admin_save_without_an_email_change_leaves_the_rows(optional):
    user = verified_account()
    before = rows(user)
    assert admin_change(user, first_name="Dora").status_code == 302
    assert rows(user) == before and mail.outbox == []


def test_email_changes_back_and_forth_cannot_flood_an_address_with_links_429(optional):
    user = verified_account()
    client = session_client(user)
    for _ in range(3):
        assert change_email(client, "victim@example.org").status_code == 200
        assert change_email(client, "dora@example.com").status_code == 200  # proved before: no link, not counted

    response = change_email(client, "victim@example.org")

    assert response.status_code == 429 and response.json()["code"] == "throttled" and response["Retry-After"]
    assert User.objects.get(pk=user.pk).email == "dora@example.com"
    assert len(mails_to("victim@example.org")) == 3
    assert ("dora@example.com", True, True) in rows(user)


def test_migration_makes_an_already_changed_address_primary_and_unverified(mandatory):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("bouncer.users.migrations.0005_email_rows_follow_address")
    user = verified_account()
    User.objects.filter(pk=user.pk).update(email="victim@example.org")  # changed before the rows followed
    user = User.objects.get(pk=user.pk)
    assert APIClient().post("/api/token/", {"username": "dora", "password": PASSWORD}, format="json").status_code == 403

    migration.rows_follow(apps, None)

    assert rows(user) == [("dora@example.com", False, True), ("victim@example.org", True, False)]
    assert oidc_email_claims(user)["email_verified"] is False
    APIClient().post("/api/auth/registration/resend-email/", {"email": "victim@example.org"}, format="json")
    key = verify_key(mails_to("victim@example.org")[0].body)
    assert APIClient().post(VERIFY, {"key": key}, format="json").status_code == 200
    assert APIClient().post("/api/token/", {"username": "dora", "password": PASSWORD}, format="json").status_code == 200
