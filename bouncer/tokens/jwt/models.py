"""Refresh-token families: what Bouncer stores about JWTs (ids only, never tokens).

One *family* per sign-in. Every refresh token carries its family id (``fam``)
and its own id (``jti``); access tokens carry the family id too, so revoking
a family reaches its access tokens through one cached marker.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class JwtFamily(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jwt_families")
    created_at = models.DateTimeField()
    #: Never earlier than the expiry of the family's newest refresh token (it is
    #: moved forward at most once a day, not on every rotation); purged after it.
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=32, blank=True)
    #: Where and with what the user signed in, for their list of sessions and devices.
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    #: Coarse: written at most once per LAST_USED_RESOLUTION_SECONDS (bouncer.core.credentials).
    last_used_at = models.DateTimeField(null=True, blank=True)
    #: How the user signed in (RFC 8176 values, space-separated: bouncer/core/assurance.py),
    #: for the list of sessions and devices. The tokens carry it themselves (the ``amr``
    #: claim, kept through every rotation): no request reads this column.
    amr = models.CharField(max_length=32, default="pwd")

    class Meta:
        verbose_name = "JWT sign-in"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user_id} since {self.created_at:%Y-%m-%d %H:%M}"


class JwtRefreshToken(models.Model):
    """One issued refresh token, by id. ``used_at`` and ``successor_jti`` are set
    exactly once, by an atomic conditional UPDATE (services.jwt_refresh): that
    is the rotation, and the only one a token ever has."""

    jti = models.UUIDField(primary_key=True, editable=False)
    family = models.ForeignKey(JwtFamily, on_delete=models.CASCADE, related_name="refresh_tokens")
    issued_at = models.DateTimeField()
    #: Indexed: the purge looks rows up by expiry (a scan of the whole table otherwise).
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)
    #: The id of the one token this one was rotated into, set by the same
    #: UPDATE as ``used_at``. A replay within the grace window gets that very
    #: successor back, signed again from its row (an id, never a token).
    successor_jti = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "JWT refresh token"
        ordering = ["-issued_at"]
