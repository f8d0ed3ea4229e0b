"""HTML pages under ``/accounts/``: a sign-in's second step, and the Security section (mounted before the email and social pages)."""

from django.urls import path

from bouncer.multifactor import security_views, views

urlpatterns = [
    path("login/mfa/", views.signin_code, name="mfa-signin"),
    path("login/mfa/enrol/", views.signin_enrol, name="mfa-enrol"),
    path("security/", security_views.security_page, name="security"),
    path("security/totp/", security_views.totp_setup, name="security-totp"),
    path("security/keys/add/", security_views.key_add, name="security-key-add"),
    path("security/factors/<int:factor_id>/rename/", security_views.factor_rename, name="security-factor-rename"),
    path("security/factors/<int:factor_id>/remove/", security_views.factor_remove, name="security-factor-remove"),
    path("security/recovery-codes/", security_views.recovery_codes_regenerate, name="security-recovery-codes"),
    path("security/verify/", security_views.step_up_page, name="security-step-up"),
]
