"""Bodies of dj-rest-auth's password-reset and email-verification endpoints (its field names)."""

from rest_framework import serializers

from bouncer.core.fields import StrictCharField
from bouncer.users.serializers import StrictInput


class PasswordResetInput(StrictInput):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmInput(StrictInput):
    uid = StrictCharField(max_length=64, trim_whitespace=False)
    token = StrictCharField(max_length=128, trim_whitespace=False)
    new_password1 = StrictCharField(max_length=4096, trim_whitespace=False, write_only=True, style={"input_type": "password"})
    new_password2 = StrictCharField(max_length=4096, trim_whitespace=False, write_only=True, style={"input_type": "password"})


class EmailVerifyInput(StrictInput):
    key = StrictCharField(max_length=256, trim_whitespace=False)


class EmailVerifyResendInput(StrictInput):
    email = serializers.EmailField(max_length=254)


class DetailOutput(serializers.Serializer):
    detail = serializers.CharField()
