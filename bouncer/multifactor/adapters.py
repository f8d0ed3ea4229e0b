"""allauth's MFA adapter: the only glue to ``allauth.mfa``'s extension points.

The relying party comes from settings (``BOUNCER_WEBAUTHN_RP_ID``), never
from the request's ``Host`` header (which allauth's default uses): a forged
host must not choose which domain a passkey is made for.
"""

from __future__ import annotations

from allauth.mfa.adapter import DefaultMFAAdapter
from django.conf import settings


class BouncerMfaAdapter(DefaultMFAAdapter):
    def get_totp_issuer(self) -> str:
        return settings.BOUNCER_MFA["RP_NAME"]

    def get_public_key_credential_rp_entity(self) -> dict[str, str]:
        return {"id": settings.BOUNCER_MFA["RP_ID"], "name": settings.BOUNCER_MFA["RP_NAME"]}
