import re

from rest_framework import serializers

from bouncer.core.fields import StrictCharField
from bouncer.users.serializers import StrictInput

#: RFC 7636 4.1: 43 to 128 unreserved characters.
_CODE_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_PRINTABLE = re.compile(r"[\x21-\x7e]+")
CREDENTIAL_FIELDS = ("code", "access_token", "id_token")


def _printable(value: str) -> str:
    if not _PRINTABLE.fullmatch(value):
        raise serializers.ValidationError("Must be printable ASCII without spaces.")
    return value


class SocialCredentialInput(StrictInput):
    """Exactly one of ``code`` (with ``redirect_uri`` and ``code_verifier``), ``access_token``, ``id_token`` (with ``nonce``)."""

    code = StrictCharField(max_length=2048, required=False, validators=[_printable], help_text="Authorization code from the provider's redirect.")
    redirect_uri = StrictCharField(max_length=2048, required=False, validators=[_printable], help_text="The redirect_uri the code was sent to, exactly.")
    code_verifier = StrictCharField(max_length=128, required=False, help_text="PKCE verifier (RFC 7636) the client made for this code; required with `code`.")
    access_token = StrictCharField(max_length=4096, required=False, validators=[_printable], help_text="An access token the provider issued to this app (Google, GitHub, Facebook).")
    id_token = StrictCharField(max_length=16384, required=False, validators=[_printable], help_text="An OpenID Connect id_token (Google One Tap, mobile SDKs, OpenID Connect providers).")
    nonce = StrictCharField(max_length=512, required=False, help_text="Required with `id_token`: the nonce given to the provider, or the raw value whose SHA-256 (hex) was given.")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        present = [name for name in CREDENTIAL_FIELDS if attrs.get(name)]
        if len(present) != 1:
            raise serializers.ValidationError({"non_field_errors": ["Send exactly one of code, access_token or id_token."]})
        kind = present[0]
        errors = {}
        if kind == "code":
            if not attrs.get("redirect_uri"):
                errors["redirect_uri"] = ["Required with code."]
            if not _CODE_VERIFIER.fullmatch(attrs.get("code_verifier", "")):
                errors["code_verifier"] = ["Required with code: 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636)."]
        else:
            errors.update({name: ["Only with code."] for name in ("redirect_uri", "code_verifier") if name in attrs})
        if kind == "id_token":
            if not attrs.get("nonce"):
                errors["nonce"] = ["Required with id_token."]
        elif "nonce" in attrs:
            errors["nonce"] = ["Only with id_token."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class SocialSigninInput(SocialCredentialInput):
    credential = serializers.ChoiceField(choices=["jwt", "token"], required=False, default="jwt", help_text="`jwt`: the answer of /api/token/; `token`: the answer of /api/auth-token/.")
    cookie = serializers.BooleanField(required=False, default=False, help_text="With credential `jwt`: put the tokens in HttpOnly cookies instead of the body.")
    device_name = StrictCharField(max_length=100, required=False, allow_blank=True, default="", help_text="With credential `token`: the device's name.")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs["credential"] == "token" and attrs["cookie"]:
            raise serializers.ValidationError({"cookie": ["Only with credential jwt."]})
        if attrs["credential"] == "jwt" and attrs["device_name"]:
            raise serializers.ValidationError({"device_name": ["Only with credential token."]})
        return attrs


class SocialLinkInput(SocialCredentialInput):
    pass


class SocialAccountOutput(serializers.Serializer):
    id = serializers.IntegerField()
    provider = serializers.CharField(help_text="`google`, `github`, `facebook` or an OpenID Connect app's id.")
    uid = serializers.CharField(help_text="The provider's id of the person.")
    email = serializers.CharField(help_text="The address the provider gave, if any.", allow_blank=True)
    created = serializers.DateTimeField(help_text="When it was linked.")
    last_login = serializers.DateTimeField(help_text="The last sign-in with it.")
