"""Reads: a user's factors, the methods a second step can use, whether MFA is required."""

from __future__ import annotations

from allauth.mfa.models import Authenticator
from django.conf import settings

TOTP = Authenticator.Type.TOTP
RECOVERY = Authenticator.Type.RECOVERY_CODES
WEBAUTHN = Authenticator.Type.WEBAUTHN

#: Factors that count as "having MFA": recovery codes alone are a backup, not a factor.
PRIMARY_TYPES = (TOTP, WEBAUTHN)


def factor_list_for_user(*, user) -> list[Authenticator]:
    return list(Authenticator.objects.filter(user_id=user.pk).order_by("created_at", "pk"))


def mfa_methods(*, user) -> list[str]:
    """The ways the user can answer a second step: ``totp``, ``webauthn``, ``recovery_code``."""
    types = set(Authenticator.objects.filter(user_id=user.pk).values_list("type", flat=True))
    if not types & set(PRIMARY_TYPES):
        return []
    return [name for kind, name in ((TOTP, "totp"), (WEBAUTHN, "webauthn"), (RECOVERY, "recovery_code")) if kind in types]


def mfa_required_for(*, user) -> bool:
    """``BOUNCER_MFA_REQUIRED``: none | staff (staff and superusers) | all."""
    policy = settings.BOUNCER_MFA["REQUIRED"]
    if policy == "all":
        return True
    return policy == "staff" and bool(user.is_staff or user.is_superuser)


def mfa_has_factor(*, user) -> bool:
    """From the database: does the user have a TOTP or WebAuthn factor (``User.mfa_enabled`` follows this)."""
    return Authenticator.objects.filter(user_id=user.pk, type__in=PRIMARY_TYPES).exists()


def mfa_pending_step(*, user) -> str | None:
    """The step a sign-in of ``user`` still owes after the first factor: ``mfa``, ``mfa_enrol`` or None.

    Reads ``User.mfa_enabled`` (no query: the row may come from the cache).
    """
    if user.mfa_enabled:
        return "mfa"
    if mfa_required_for(user=user):
        return "mfa_enrol"
    return None


def factor_describe(factor: Authenticator) -> dict:
    """What the API and the pages show of a factor: never its secret, key or codes."""
    from bouncer.multifactor import recovery, webauthn

    is_key = factor.type == WEBAUTHN
    return {
        "id": factor.pk,
        "type": factor.type,
        "name": webauthn.webauthn_name(factor) if is_key else None,
        "created_at": factor.created_at,
        "last_used_at": factor.last_used_at,
        "passkey": bool(webauthn.webauthn_is_passkey(factor)) if is_key else False,
        "recovery_codes_left": recovery.recovery_codes_left(factor) if factor.type == RECOVERY else None,
    }
