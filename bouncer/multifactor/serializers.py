import json

from rest_framework import serializers

from bouncer.core.fields import StrictCharField
from bouncer.users.serializers import StrictInput

#: A WebAuthn answer (PublicKeyCredential as JSON) is a few kilobytes at most.
CREDENTIAL_MAX_BYTES = 16 * 1024


class WebAuthnCredentialField(serializers.JSONField):
    """``navigator.credentials.get()/create()``'s answer as JSON: an object, bounded in size."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be the PublicKeyCredential as a JSON object.")
        if len(json.dumps(value)) > CREDENTIAL_MAX_BYTES:
            raise serializers.ValidationError("Too large.")
        return value


class MfaAuthenticateInput(StrictInput):
    mfa_token = StrictCharField(max_length=128, help_text="From the 401 `mfa_required` (or `mfa_enrolment_required`) answer.")
    code = StrictCharField(max_length=64, required=False, help_text="A TOTP code (6 digits) or an unused recovery code.")
    credential = WebAuthnCredentialField(required=False, help_text="The security key's answer to the options of /api/auth/mfa/webauthn/begin/.")


class MfaTokenInput(StrictInput):
    mfa_token = StrictCharField(max_length=128)


class MfaRequiredOutput(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.ChoiceField(choices=["mfa_required", "mfa_enrolment_required"])
    mfa_token = serializers.CharField(help_text="Short-lived, single use, bound to this sign-in.")
    methods = serializers.ListField(child=serializers.ChoiceField(choices=["totp", "webauthn", "recovery_code"]))
