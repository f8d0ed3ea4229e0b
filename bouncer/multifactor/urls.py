"""``/api/auth/mfa/`` (mounted before the social paths in config/urls.py)."""

from django.urls import path

from bouncer.multifactor import api

app_name = "multifactor"

urlpatterns: list = [
    # The second step of a sign-in.
    path("authenticate/", api.MfaAuthenticateApi.as_view(), name="authenticate"),
    path("webauthn/begin/", api.MfaWebAuthnBeginApi.as_view(), name="webauthn-begin"),
    # The caller's factors.
    path("factors/", api.MfaFactorListApi.as_view(), name="factor-list"),
    path("factors/<str:factor_id>/", api.MfaFactorApi.as_view(), name="factor"),
    path("totp/", api.MfaTotpSetupApi.as_view(), name="totp-begin"),
    path("totp/confirm/", api.MfaTotpConfirmApi.as_view(), name="totp-confirm"),
    path("webauthn/register/begin/", api.MfaWebAuthnRegisterBeginApi.as_view(), name="webauthn-register-begin"),
    path("webauthn/register/", api.MfaWebAuthnRegisterApi.as_view(), name="webauthn-register"),
    path("recovery-codes/", api.MfaRecoveryCodesApi.as_view(), name="recovery-codes"),
    # Step-up: re-verify before a sensitive action.
    path("step-up/", api.MfaStepUpApi.as_view(), name="step-up"),
    path("step-up/webauthn/begin/", api.MfaStepUpWebAuthnBeginApi.as_view(), name="step-up-webauthn-begin"),
]
