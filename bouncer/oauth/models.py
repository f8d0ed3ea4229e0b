"""What django-oauth-toolkit does not keep.

``RedeemedCode``: which tokens an authorization code issued. The toolkit
deletes a grant when its code is redeemed, so a replayed code is simply
unknown and the tokens it issued stay valid. RFC 6749 section 4.1.2 says they
SHOULD be revoked; this row, written in the same transaction that deletes the
grant, lets a replay find them.

``AuthorizationAmr``: how the user signed in when they authorized, for the
id_token's ``amr`` and ``acr`` claims.
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


class AuthorizationAmr(models.Model):
    """The amr of the browser session that authorized at ``/o/authorize/``, for the id_tokens it leads to.

    The id_token is signed at the token endpoint, where there is no browser
    session: the amr must travel with the grant. A row per authorization code,
    keyed by the code's digest until it is redeemed, then by the refresh-token
    family the code started, so every refresh-token grant of that family signs
    the same ``amr``/``acr`` (a refresh proves nothing new about the user).

    Why not the toolkit's ``Grant.claims``, which the token endpoint already
    reads back: that column is the client's own OpenID Connect ``claims``
    request parameter, restored into the request; a server-asserted value
    kept inside a document the client writes is one bug away from a client
    choosing its own ``amr``. And the grant row is deleted at redemption, so
    refresh-token grants could not find it.
    """

    #: SHA-256 of the code until it is redeemed (then null).
    code_digest = models.CharField(max_length=64, unique=True, null=True)
    #: The toolkit's ``RefreshToken.token_family`` of the tokens the code issued, once redeemed.
    token_family = models.UUIDField(unique=True, null=True)
    #: RFC 8176 values, space-separated (bouncer/core/assurance.py).
    amr = models.CharField(max_length=32)
    #: The code's expiry: an unredeemed code's row is purged after it. A redeemed
    #: one is purged once its family has no refresh token left, whatever this says
    #: (services.oauth_purge_expired).
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"Authorization amr #{self.pk}"
