from rest_framework import serializers

from bouncer.core.fields import StrictCharField
from bouncer.users.serializers import StrictInput


class JwtObtainInput(StrictInput):
    username = StrictCharField(max_length=150, trim_whitespace=False)
    password = StrictCharField(max_length=4096, trim_whitespace=False, write_only=True, style={"input_type": "password"})
    cookie = serializers.BooleanField(required=False, default=False, help_text="Put the tokens in HttpOnly cookies instead of the body.")


class JwtRefreshInput(StrictInput):
    refresh = StrictCharField(max_length=8192, required=False, help_text="Omit in cookie mode: the refresh cookie is used.")


class JwtVerifyInput(StrictInput):
    token = StrictCharField(max_length=8192)


class JwtPairOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class JwtCookieOutput(serializers.Serializer):
    access_expires = serializers.DateTimeField()
    refresh_expires = serializers.DateTimeField()
