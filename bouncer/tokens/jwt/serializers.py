from rest_framework import serializers

from bouncer.core.fields import StrictCharField
from bouncer.users.serializers import CredentialsInput, StrictInput


class JwtObtainInput(CredentialsInput):
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
