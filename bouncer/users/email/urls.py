"""dj-rest-auth's paths under ``/api/auth/``: password reset, email verification."""

from django.urls import path

from bouncer.users.email import api

app_name = "email"

urlpatterns = [
    path("password/reset/", api.PasswordResetApi.as_view(), name="password-reset"),
    path("password/reset/confirm/", api.PasswordResetConfirmApi.as_view(), name="password-reset-confirm"),
    path("registration/verify-email/", api.EmailVerifyApi.as_view(), name="verify-email"),
    path("registration/resend-email/", api.EmailVerifyResendApi.as_view(), name="resend-email"),
]
