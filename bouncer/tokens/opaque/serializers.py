from rest_framework import serializers

from bouncer.core.fields import StrictCharField


class TokenLoginInput(serializers.Serializer):
    username = StrictCharField(max_length=150, trim_whitespace=False)
    password = StrictCharField(max_length=4096, trim_whitespace=False, write_only=True, style={"input_type": "password"})
    device_name = StrictCharField(max_length=100, required=False, allow_blank=True, default="")


class TokenLoginOutput(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`. Shown once.")
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    expiry = serializers.DateTimeField()
