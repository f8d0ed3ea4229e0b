"""The enrolment services the management API and the Security pages share."""

from __future__ import annotations

import pyotp
import pytest

from bouncer.multifactor import factors, services
from bouncer.multifactor.selectors import mfa_methods
from tests.multifactor.conftest import make_user
from tests.multifactor.softkey import SoftKey

ORIGIN = "http://localhost:8000"


@pytest.fixture
def alice(db):
    return make_user("alice")


def test_totp_setup_confirmed_by_a_first_code_gives_recovery_codes(alice):
    setup_id, shown = factors.totp_setup_begin(user=alice)
    assert shown["otpauth_url"].startswith("otpauth://totp/") and shown["qr_svg"].lstrip().startswith("<?xml")
    with pytest.raises(services.MfaCodeInvalid):
        factors.totp_setup_confirm(request=None, user=alice, setup_id=setup_id, code="12345x")
    factor, codes = factors.totp_setup_confirm(request=None, user=alice, setup_id=setup_id, code=pyotp.TOTP(shown["secret"]).now())
    alice.refresh_from_db()
    assert alice.mfa_enabled and len(codes) == 10 and mfa_methods(user=alice) == ["totp", "recovery_code"]
    with pytest.raises(factors.SetupExpired):  # the setup is spent
        factors.totp_setup_confirm(request=None, user=alice, setup_id=setup_id, code=pyotp.TOTP(shown["secret"]).now())


def test_a_security_key_registers_and_answers_the_second_step(alice):
    key = SoftKey()
    registration_id, options = factors.webauthn_register_begin(user=alice, passwordless=False)
    factor, codes = factors.webauthn_register_complete(
        request=None, user=alice, registration_id=registration_id, credential=key.create(options, ORIGIN), name="Yubikey"
    )
    assert factor.data["name"] == "Yubikey" and codes
    alice.refresh_from_db()
    raw, _ = services.challenge_create(user=alice, purpose="signin", method="jwt", issue="jwt", data={"amr": ["pwd"]})
    request_options = services.mfa_webauthn_begin(raw=raw)
    step = services.mfa_authenticate(request=None, raw=raw, credential=key.get(request_options, ORIGIN))
    assert step.user == alice and "mfa" in step.amr


def test_removing_the_last_factor_drops_the_recovery_codes_unless_mfa_is_required(alice, settings):
    setup_id, shown = factors.totp_setup_begin(user=alice)
    factor, _ = factors.totp_setup_confirm(request=None, user=alice, setup_id=setup_id, code=pyotp.TOTP(shown["secret"]).now())
    settings.BOUNCER_MFA = {**settings.BOUNCER_MFA, "REQUIRED": "all"}
    with pytest.raises(factors.LastFactorRequired):
        factors.factor_remove(request=None, user=alice, factor_id=factor.pk)
    settings.BOUNCER_MFA = {**settings.BOUNCER_MFA, "REQUIRED": "none"}
    factors.factor_remove(request=None, user=alice, factor_id=factor.pk)
    alice.refresh_from_db()
    assert not alice.mfa_enabled and mfa_methods(user=alice) == []


def test_the_admin_lists_factors_without_their_secrets_and_a_deletion_is_audited(alice, client):
    from allauth.mfa.models import Authenticator

    from bouncer.audit.models import AuditAction, AuditEvent
    from bouncer.users.models import User

    setup_id, shown = factors.totp_setup_begin(user=alice)
    factor, _ = factors.totp_setup_confirm(request=None, user=alice, setup_id=setup_id, code=pyotp.TOTP(shown["secret"]).now())
    root = User.objects.create_superuser(username="root", email="root@example.com", password="x-admin-pass-9")
    client.force_login(root)
    listing = client.get("/admin/mfa/authenticator/")
    assert listing.status_code == 200 and b"alice" in listing.content
    page = client.get(f"/admin/mfa/authenticator/{factor.pk}/change/")
    assert page.status_code == 200 and shown["secret"].encode() not in page.content
    assert client.post(f"/admin/mfa/authenticator/{factor.pk}/change/", {"data": "{}"}).status_code == 403
    client.post(f"/admin/mfa/authenticator/{factor.pk}/delete/", {"post": "yes"})
    assert not Authenticator.objects.filter(pk=factor.pk).exists()
    alice.refresh_from_db()
    assert not alice.mfa_enabled
    assert AuditEvent.objects.filter(action=AuditAction.MFA_REMOVED, user=alice, data__by="admin").count() == 1
