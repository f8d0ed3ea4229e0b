"""Email pages under ``/accounts/``: sign up, forgot password, set a new password, verify email."""

from django.urls import path

from bouncer.users.email import views

urlpatterns = [
    path("signup/", views.sign_up, name="signup"),
    path("password/reset/", views.password_reset, name="password-reset"),
    path("password/reset/<str:uid>/<str:token>/", views.password_reset_confirm, name="password-reset-confirm"),
    # Before the key pattern: "resend" is a path of its own, not a key.
    path("verify-email/resend/", views.email_verify_resend, name="email-verify-resend"),
    path("verify-email/<str:key>/", views.email_verify, name="email-verify"),
]
