from django.contrib.auth.validators import UnicodeUsernameValidator
from rest_framework import serializers

from bouncer.core.fields import StrictCharField
from bouncer.users.models import User


class StrictInput(serializers.Serializer):
    """Refuses fields outside the contract instead of silently ignoring them,
    so ``{"is_staff": true}`` on register is a clear 400, not a surprise."""

    def validate(self, attrs):
        if hasattr(self, "initial_data") and hasattr(self.initial_data, "keys"):
            unknown = sorted(set(self.initial_data.keys()) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["This field is not allowed."] for name in unknown})
        return attrs


class UserRegisterInput(StrictInput):
    username = StrictCharField(max_length=150, validators=[UnicodeUsernameValidator()])
    email = serializers.EmailField(max_length=254)
    password = StrictCharField(max_length=4096, write_only=True, trim_whitespace=False, style={"input_type": "password"})


class UserOutput(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email", "is_staff"]
        read_only_fields = fields


class ProfileOutput(serializers.Serializer):
    # Declared fields, not a ModelSerializer: this runs on every profile
    # request, and ModelSerializer re-introspects the model for each instance
    # (about 0.3 ms per request, see docs/performance.md).
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    first_name = serializers.CharField(read_only=True)
    last_name = serializers.CharField(read_only=True)
    is_staff = serializers.BooleanField(read_only=True)


class ProfileUpdateInput(StrictInput):
    email = serializers.EmailField(max_length=254, required=False)
    first_name = StrictCharField(max_length=150, required=False, allow_blank=True)
    last_name = StrictCharField(max_length=150, required=False, allow_blank=True)


class PasswordChangeInput(StrictInput):
    old_password = StrictCharField(max_length=4096, trim_whitespace=False, write_only=True)
    new_password = StrictCharField(max_length=4096, trim_whitespace=False, write_only=True)


class CredentialsInput(StrictInput):
    """Username and password: the body of every password sign-in."""

    username = StrictCharField(max_length=150, trim_whitespace=False)
    password = StrictCharField(max_length=4096, trim_whitespace=False, write_only=True, style={"input_type": "password"})


class SessionLoginInput(CredentialsInput):
    pass


class MessageOutput(serializers.Serializer):
    message = serializers.CharField()


class SessionOutput(serializers.Serializer):
    """One live credential of the caller, as listed by /api/accounts/sessions/."""

    id = serializers.CharField(read_only=True, help_text="Stable opaque id: `<kind>_<hex>`; never the secret.")
    kind = serializers.ChoiceField(choices=["session", "token", "jwt", "oauth2"], read_only=True)
    device = serializers.CharField(read_only=True, help_text="Device name, user agent, or OAuth2 application name.")
    address = serializers.CharField(read_only=True, help_text="Client address at sign-in (empty when unknown).")
    created_at = serializers.DateTimeField(read_only=True)
    last_used_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="Coarse: updated at most every few minutes.")
    current = serializers.BooleanField(read_only=True, help_text="The credential this request was made with.")
    amr = serializers.ListField(
        child=serializers.CharField(), read_only=True,
        help_text="How the sign-in behind it was proven (RFC 8176: `pwd`, `fed`, `otp`, `hwk`, `swk`, `mfa`); empty for OAuth2 authorizations.",
    )
    mfa = serializers.BooleanField(read_only=True, help_text="Whether that sign-in proved a second factor (`mfa` in `amr`).")


class SessionRevokeOthersOutput(serializers.Serializer):
    revoked = serializers.IntegerField(read_only=True)
