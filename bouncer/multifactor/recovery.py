"""Recovery codes: shown once, stored hashed, single use, regenerable.

Not allauth's ``RecoveryCodes``: it derives every code from a stored seed, so
the codes can be shown again and are as readable as the seed in the
database. Here each code is 50 random bits, only its SHA-256 is stored (a
random code needs no slow hash), and a use removes it under a row lock. The
row is still allauth's ``Authenticator`` of type ``recovery_codes``, so
allauth and the admin see that the user has them.
"""

from __future__ import annotations

import hmac
import secrets

from allauth.mfa import app_settings
from allauth.mfa.models import Authenticator
from django.db import transaction
from django.utils import timezone

from bouncer.core.digests import sha256_hex

_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def _normalize(code: str) -> str:
    return "".join(ch for ch in str(code).lower() if ch.isalnum())


def _new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def recovery_codes_generate(*, user) -> list[str]:
    """A new set of codes for the user (the old set stops working); the only time they are readable."""
    codes = [_new_code() for _ in range(app_settings.RECOVERY_CODE_COUNT)]
    data = {"hashes": [sha256_hex(_normalize(code)) for code in codes], "total": len(codes)}
    with transaction.atomic():
        updated = Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.RECOVERY_CODES).update(data=data)
        if not updated:
            Authenticator.objects.create(user=user, type=Authenticator.Type.RECOVERY_CODES, data=data)
    return codes


def recovery_codes_left(factor: Authenticator) -> int:
    return len(factor.data.get("hashes", []))


def recovery_code_use(*, user, code: str) -> Authenticator | None:
    """Spend one code: the factor row when it was one of the unused codes, else None.

    Every stored digest is compared (constant time, no early exit), so the
    time taken does not tell which or how many codes are left.
    """
    digest = sha256_hex(_normalize(code))
    with transaction.atomic():
        factor = Authenticator.objects.select_for_update().filter(user_id=user.pk, type=Authenticator.Type.RECOVERY_CODES).first()
        if factor is None:
            return None
        hashes = list(factor.data.get("hashes", []))
        match = None
        for index, stored in enumerate(hashes):
            if hmac.compare_digest(stored, digest):
                match = index
        if match is None:
            return None
        del hashes[match]
        factor.data = {**factor.data, "hashes": hashes}
        factor.last_used_at = timezone.now()
        factor.save(update_fields=["data", "last_used_at"])
    return factor
