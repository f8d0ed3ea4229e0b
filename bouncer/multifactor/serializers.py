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


# --- factor management (/api/auth/mfa/factors/, totp/, webauthn/register/, recovery-codes/, step-up/) ---

ENROLMENT_TOKEN_HELP = (
    "Instead of a credential: the `mfa_token` of a sign-in answered `401 mfa_enrolment_required` "
    "(a second factor is required and the account has none)."
)
#: The ids the API hands out (setup, registration, step-up) are 43 characters.
CEREMONY_ID_MAX = 128


class MfaEnrolmentInput(StrictInput):
    mfa_token = StrictCharField(max_length=128, required=False, help_text=ENROLMENT_TOKEN_HELP)


class MfaFactorOutput(serializers.Serializer):
    """One factor of the caller's; never a secret, a key or a recovery code."""

    id = serializers.IntegerField(read_only=True)
    type = serializers.ChoiceField(choices=["totp", "webauthn", "recovery_codes"], read_only=True)
    name = serializers.CharField(read_only=True, allow_null=True, help_text="A security key's or passkey's name; null for the others.")
    created_at = serializers.DateTimeField(read_only=True)
    last_used_at = serializers.DateTimeField(read_only=True, allow_null=True)
    passkey = serializers.BooleanField(read_only=True, help_text="A WebAuthn credential the authenticator keeps (discoverable).")
    recovery_codes_left = serializers.IntegerField(read_only=True, allow_null=True, help_text="Unused recovery codes; null for the others.")


class MfaFactorEnrolledOutput(MfaFactorOutput):
    recovery_codes = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        allow_null=True,
        help_text="With the first factor only: the recovery codes, shown this once. Null when the account already had them.",
    )


class MfaTotpSetupOutput(serializers.Serializer):
    setup_id = serializers.CharField(read_only=True, help_text="Send it back with the first code to /api/auth/mfa/totp/confirm/.")
    secret = serializers.CharField(read_only=True, help_text="Base32, for typing into the app by hand.")
    otpauth_url = serializers.CharField(read_only=True, help_text="The `otpauth://totp/...` URI the QR code holds.")
    qr_svg = serializers.CharField(read_only=True, help_text="The QR code as an SVG document.")


class MfaTotpConfirmInput(MfaEnrolmentInput):
    setup_id = StrictCharField(max_length=CEREMONY_ID_MAX)
    code = StrictCharField(max_length=64, help_text="The 6-digit code the app shows now.")


class MfaWebAuthnRegisterBeginInput(MfaEnrolmentInput):
    passwordless = serializers.BooleanField(
        required=False, default=False, help_text="A passkey (a discoverable credential with user verification) rather than a security key."
    )


class MfaWebAuthnOptionsOutput(serializers.Serializer):
    registration_id = serializers.CharField(read_only=True)
    options = serializers.JSONField(read_only=True, help_text='`{"publicKey": ...}` for navigator.credentials.create().')


class MfaWebAuthnRegisterInput(MfaEnrolmentInput):
    registration_id = StrictCharField(max_length=CEREMONY_ID_MAX)
    credential = WebAuthnCredentialField(help_text="navigator.credentials.create()'s answer (PublicKeyCredential.toJSON()).")
    name = StrictCharField(max_length=64, required=False, allow_blank=True, default="", help_text="Shown in the list; `Security key` if empty.")


class MfaFactorRenameInput(StrictInput):
    name = StrictCharField(max_length=64)


class MfaRecoveryCodesOutput(serializers.Serializer):
    recovery_codes = serializers.ListField(child=serializers.CharField(), read_only=True, help_text="Shown this once; the old set no longer works.")


class MfaStepUpInput(StrictInput):
    code = StrictCharField(max_length=64, required=False, help_text="A TOTP code or an unused recovery code.")
    step_up_id = StrictCharField(max_length=CEREMONY_ID_MAX, required=False, help_text="From /api/auth/mfa/step-up/webauthn/begin/.")
    credential = WebAuthnCredentialField(required=False, help_text="The security key's answer to that call's options.")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        by_code = "code" in attrs
        by_key = "credential" in attrs or "step_up_id" in attrs
        if by_code == by_key:
            raise serializers.ValidationError({"non_field_errors": ["Send either `code`, or `step_up_id` with `credential`."]})
        if by_key and not ("credential" in attrs and "step_up_id" in attrs):
            missing = "credential" if "credential" not in attrs else "step_up_id"
            raise serializers.ValidationError({missing: ["This field is required with a security key."]})
        return attrs


class MfaStepUpOutput(serializers.Serializer):
    expires_in = serializers.IntegerField(read_only=True, help_text="Seconds this credential's step-up lasts.")


class MfaStepUpWebAuthnOutput(serializers.Serializer):
    step_up_id = serializers.CharField(read_only=True)
    options = serializers.JSONField(read_only=True, help_text='`{"publicKey": ...}` for navigator.credentials.get().')
class PasskeyBeginOutput(serializers.Serializer):
    passkey_token = serializers.CharField(help_text="Short-lived, single use: send it back with the passkey's answer.")
    options = serializers.JSONField(help_text="`{\"publicKey\": ...}` for navigator.credentials.get() (no allowCredentials; user verification required).")


class PasskeySigninInput(StrictInput):
    passkey_token = StrictCharField(max_length=128, help_text="From /api/auth/passkey/begin/.")
    credential = WebAuthnCredentialField(help_text="The passkey's answer (PublicKeyCredential as JSON) to the begin options.")
    issue = serializers.ChoiceField(
        choices=["session", "token", "jwt"], required=False, default="jwt",
        help_text="What to sign in with: `session` (the session login's answer), `token` (/api/auth-token/'s), `jwt` (/api/token/'s).",
    )
    cookie = serializers.BooleanField(required=False, default=False, help_text="With issue `jwt`: put the tokens in HttpOnly cookies instead of the body.")
    device_name = StrictCharField(max_length=100, required=False, allow_blank=True, default="", help_text="With issue `token`: the device's name.")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs["cookie"] and attrs["issue"] != "jwt":
            raise serializers.ValidationError({"cookie": ["Only with issue jwt."]})
        if attrs["device_name"] and attrs["issue"] != "token":
            raise serializers.ValidationError({"device_name": ["Only with issue token."]})
        return attrs
