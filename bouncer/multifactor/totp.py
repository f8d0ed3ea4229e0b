"""TOTP (RFC 6238): allauth's secret, URI, QR code and HOTP values; Bouncer's replay rule.

allauth remembers a used code in the cache (``TOTP._mark_code_used``): with
the in-process cache and several workers, or a Redis flush, a code could be
used twice. Here the last accepted time step is stored on the factor's row and
moved forward under a row lock, so a code (and any older one) is refused for
the rest of its window on every node, Redis or not.
"""

from __future__ import annotations

import hmac
import time

from allauth.mfa import app_settings
from allauth.mfa.adapter import get_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, generate_totp_secret, hotp_value
from allauth.mfa.utils import decrypt, encrypt
from django.db import transaction
from django.utils import timezone

CODE_LENGTH = 6


def totp_secret_new() -> str:
    return generate_totp_secret()


def totp_enrolment(*, user, secret: str) -> dict:
    """What an authenticator app needs: the secret, its ``otpauth://`` URI and a QR code (SVG)."""
    adapter = get_adapter()
    url = adapter.build_totp_url(user, secret)
    return {"secret": secret, "otpauth_url": url, "qr_svg": adapter.build_totp_svg(url)}


def totp_code_step(*, secret: str, code: str, now: float | None = None) -> int | None:
    """The time step ``code`` is valid for (within the tolerance), else None. Every step is compared."""
    code = "".join(str(code).split())
    if len(code) != app_settings.TOTP_DIGITS or not code.isascii() or not code.isdigit():
        return None
    current = int(now if now is not None else time.time()) // app_settings.TOTP_PERIOD
    found = None
    for step in range(current - app_settings.TOTP_TOLERANCE, current + app_settings.TOTP_TOLERANCE + 1):
        if hmac.compare_digest(format_hotp_value(hotp_value(secret, step)), code):
            found = step if found is None else found
    return found


def totp_activate(*, user, secret: str, step: int) -> Authenticator:
    """The confirmed factor; the confirming code's step counts as used."""
    return Authenticator.objects.create(
        user=user, type=Authenticator.Type.TOTP, data={"secret": encrypt(secret), "last_step": step}, last_used_at=timezone.now()
    )


def totp_verify(*, user, code: str) -> Authenticator | None:
    """The user's TOTP factor when ``code`` is right and newer than every code used before."""
    with transaction.atomic():
        factor = Authenticator.objects.select_for_update().filter(user_id=user.pk, type=Authenticator.Type.TOTP).first()
        if factor is None:
            return None
        step = totp_code_step(secret=decrypt(factor.data["secret"]), code=code)
        if step is None or step <= int(factor.data.get("last_step", -1)):
            return None
        factor.data["last_step"] = step
        factor.last_used_at = timezone.now()
        factor.save(update_fields=["data", "last_used_at"])
    return factor
