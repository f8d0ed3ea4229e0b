from django.contrib.auth.models import User
from rest_framework import serializers


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        # We only expose basic user fields for now
        fields = ["id", "username", "email", "is_staff"]
