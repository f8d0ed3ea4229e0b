"""What django-oauth-toolkit does not keep: which tokens an authorization code issued.

The toolkit deletes a grant when its code is redeemed, so a replayed code is
simply unknown and the tokens it issued stay valid. RFC 6749 section 4.1.2
says they SHOULD be revoked; this row, written in the same transaction that
deletes the grant, lets a replay find them.
"""

from __future__ import annotations

from django.db import models
from oauth2_provider.settings import oauth2_settings


class RedeemedCode(models.Model):
    #: SHA-256 of the code: the code itself is a credential and never stored.
    code_digest = models.CharField(max_length=64, unique=True)
    application = models.ForeignKey(oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE, related_name="+")
    #: SHA-256 checksums of the tokens it issued (django-oauth-toolkit's ``token_checksum``).
    access_token_checksum = models.CharField(max_length=64)
    refresh_token_checksum = models.CharField(max_length=64, blank=True)
    redeemed_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"Redeemed code #{self.pk}"
