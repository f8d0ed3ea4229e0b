from rest_framework import serializers

from bouncer.core.fields import StrictCharField
from bouncer.users.serializers import CredentialsInput


class TokenLoginInput(CredentialsInput):
    device_name = StrictCharField(max_length=100, required=False, allow_blank=True, default="")


class TokenLoginOutput(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`. Shown once.")
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    expiry = serializers.DateTimeField()
