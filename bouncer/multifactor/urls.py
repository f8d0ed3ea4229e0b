"""``/api/auth/mfa/`` (mounted before the social paths in config/urls.py)."""

from django.urls import path

from bouncer.multifactor import api

app_name = "multifactor"

urlpatterns: list = [
    path("authenticate/", api.MfaAuthenticateApi.as_view(), name="authenticate"),
    path("webauthn/begin/", api.MfaWebAuthnBeginApi.as_view(), name="webauthn-begin"),
]
