"""Hashed, expiring, per-device DRF tokens (``Authorization: Token <key>``).

Why our own model and not ``rest_framework.authtoken`` or django-rest-knox:
DRF's ``Token`` keeps the key in plain text as the primary key and allows one
token per user with no expiry. Knox hashes and expires tokens, but has no
device name (so "one token per device" and the per-device sign-out list would
need a second model beside it), answers login with its own body shape
(``{expiry, token, user}``) and runs its own login view with its own
authentication classes. The contract in SPEC.md needs none of that, and the
part that matters for security is small: a 256-bit random key, shown once,
stored as SHA-256 (a slow hash adds nothing for a random key of that size and
would cost a hash per request), looked up by digest in one indexed query.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from bouncer.core.digests import sha256_hex

KEY_BYTES = 32
#: Longest key we accept in a header; anything longer is refused before hashing.
MAX_KEY_LENGTH = 64


def token_digest(key: str) -> str:
    return sha256_hex(key)


def token_generate_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


class DeviceToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="device_tokens")
    #: SHA-256 of the key, hex. The key itself is never stored.
    digest = models.CharField(max_length=64, unique=True, editable=False)
    #: First characters of the key, so a user or admin can tell tokens apart.
    prefix = models.CharField(max_length=8, editable=False)
    device_name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    #: Where the token was issued to, for the user's list of devices.
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    #: Coarse: written at most once per LAST_USED_RESOLUTION_SECONDS (bouncer.core.credentials).
    last_used_at = models.DateTimeField(null=True, blank=True)
    #: How the user signed in when the token was issued (RFC 8176 values, space-separated:
    #: bouncer/core/assurance.py). Part of the cached row, so reading it costs no query.
    amr = models.CharField(max_length=32, default="pwd")

    class Meta:
        verbose_name = "DRF token"
        ordering = ["-created_at"]
        constraints = [
            # One live token per named device: signing in again from the same
            # device replaces its token (see services.token_issue).
            models.UniqueConstraint(
                fields=["user", "device_name"],
                condition=~models.Q(device_name=""),
                name="tokens_devicetoken_one_per_device",
            ),
            models.CheckConstraint(condition=models.Q(expires_at__gt=models.F("created_at")), name="tokens_devicetoken_expiry_after_creation"),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.device_name or 'unnamed device'})"
