"""A user lost every factor: ``manage.py mfa_reset <username>`` and the users admin's action.

Every factor goes, one MFA_REMOVED row says so, every credential of every
kind ends (the lost phone may hold one), and the next sign-in is the
password alone, or an enrolment where a factor is required.
"""

from __future__ import annotations

from io import StringIO

import pytest
from allauth.mfa.models import Authenticator
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.multifactor.models import MfaChallenge
from bouncer.multifactor.recovery import recovery_codes_generate
from bouncer.users.models import User
from tests.conftest import make_user
from tests.multifactor.conftest import with_totp
from tests.multifactor.ways import first_step, with_webauthn
from tests.security.test_credential_lifecycle import KINDS, TokenCredential

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _relaxed(settings):
    rates = {scope: "1000/min" for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def lost_everything(username: str = "alice", **kwargs):
    """A user signed in with every kind of credential, then given every kind of factor."""
    user = make_user(username, **kwargs)
    held = [KINDS[kind](user) for kind in sorted(KINDS)]
    with_totp(user)
    with_webauthn(user)
    recovery_codes_generate(user=user)
    user.refresh_from_db()
    assert user.mfa_enabled
    assert [c.kind for c in held if not c.works()] == []
    return user, held


def reset(username: str) -> str:
    out = StringIO()
    call_command("mfa_reset", username, stdout=out)
    return out.getvalue()


def assert_reset(user, held, *, method: str) -> None:
    user.refresh_from_db()
    assert not user.mfa_enabled
    assert not Authenticator.objects.filter(user=user).exists()
    assert not MfaChallenge.objects.filter(user=user).exists()
    row = AuditEvent.objects.get(user=user, action=AuditAction.MFA_REMOVED)
    assert row.method == method
    assert row.data["factors"] == ["recovery_codes", "totp", "webauthn"] and row.data["count"] == 3
    assert [c.kind for c in held if c.surfaces_still_working()] == []


def test_mfa_reset_removes_every_factor_and_ends_every_credential():
    user, held = lost_everything()
    waiting = first_step(APIClient(), "jwt", user).json()["mfa_token"]  # someone at the second step

    out = reset("ALICE")  # the username compared as at sign-in

    assert "3 factor(s) removed" in out and "credential(s) ended" in out
    assert_reset(user, held, method="command")
    again = APIClient().post("/api/auth/mfa/authenticate/", {"mfa_token": waiting, "code": "123456"}, format="json")
    assert again.status_code == 401 and again.json()["code"] == "mfa_token_invalid"
    # The next sign-in is the password alone.
    assert first_step(APIClient(), "jwt", user).status_code == 200


def test_mfa_reset_of_a_user_for_whom_mfa_is_required_leads_to_an_enrolment(settings):
    settings.BOUNCER_MFA = {**settings.BOUNCER_MFA, "REQUIRED": "staff"}
    user = make_user("carol", is_staff=True)
    with_totp(user)

    reset("carol")

    stopped = first_step(APIClient(), "token", user)
    assert stopped.status_code == 401 and stopped.json()["code"] == "mfa_enrolment_required"


def test_mfa_reset_leaves_other_users_alone():
    user, _ = lost_everything()
    bob = make_user("bob")
    bob_token = TokenCredential(bob)
    with_totp(bob)

    reset("alice")

    assert User.objects.get(pk=bob.pk).mfa_enabled
    assert Authenticator.objects.filter(user=bob).count() == 1
    assert bob_token.works()


def test_mfa_reset_of_an_unknown_user_or_one_without_factors_changes_nothing():
    user = make_user("alice")
    held = TokenCredential(user)

    with pytest.raises(CommandError, match="No user"):
        reset("nobody")
    with pytest.raises(CommandError, match="no second factor"):
        reset("alice")

    assert held.works()
    assert not AuditEvent.objects.filter(action=AuditAction.MFA_REMOVED).exists()


def admin_client() -> Client:
    root = make_user("root", is_staff=True)
    root.is_superuser = True
    root.save()
    client = Client()
    client.force_login(root)
    return client


def test_admin_action_resets_the_selected_users_factors():
    user, held = lost_everything()
    plain = make_user("dave")  # no factor: skipped, said so
    admin = admin_client()

    response = admin.post(
        "/admin/users/user/", {"action": "reset_second_factors", "_selected_action": [str(user.pk), str(plain.pk)]}, follow=True
    )

    assert response.status_code == 200
    text = response.content.decode()
    assert "Second factors removed for 1 user(s)" in text and "No second factor to remove: dave" in text
    assert_reset(user, held, method="admin")
    assert AuditEvent.objects.get(action=AuditAction.MFA_REMOVED).data["operator"] == "root"
    assert admin.get("/admin/").status_code == 200  # the admin's own session is not the user's


def test_admin_action_needs_the_change_permission():
    user, held = lost_everything()
    viewer = make_user("viewer", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_user"))
    client = Client()
    client.force_login(viewer)

    response = client.post("/admin/users/user/", {"action": "reset_second_factors", "_selected_action": [str(user.pk)]})

    assert response.status_code in (200, 302, 403)
    assert User.objects.get(pk=user.pk).mfa_enabled
    assert [c.kind for c in held if not c.works()] == []
