"""The audit log: one row per security event, from a closed vocabulary."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditAction(models.TextChoices):
    """Every action the audit log knows. Later mechanisms add theirs here."""

    LOGIN_SUCCEEDED = "login_succeeded", "Login succeeded"
    LOGIN_FAILED = "login_failed", "Login failed"
    ACCOUNT_LOCKED = "account_locked", "Account locked after failed logins"
    LOGOUT = "logout", "Logout"
    TOKEN_ISSUED = "token_issued", "Token issued"
    TOKEN_REVOKED = "token_revoked", "Token revoked"
    TOKEN_REFRESHED = "token_refreshed", "Token refreshed"
    TOKEN_REUSE_DETECTED = "token_reuse_detected", "Refresh token reused: sign-in revoked"
    USER_REGISTERED = "user_registered", "User registered"
    PASSWORD_CHANGED = "password_changed", "Password changed"
    PROFILE_UPDATED = "profile_updated", "Profile updated"
    CONSENT_GIVEN = "consent_given", "OAuth2 consent given"
    CONSENT_WITHDRAWN = "consent_withdrawn", "OAuth2 consent withdrawn"
    CLIENT_AUTH_FAILED = "client_auth_failed", "OAuth2 client authentication failed"
    CODE_REPLAYED = "code_replayed", "Authorization code replayed: its tokens revoked"
    SOCIAL_LINKED = "social_linked", "Social account linked"
    SOCIAL_UNLINKED = "social_unlinked", "Social account unlinked"
    EMAIL_VERIFICATION_SENT = "email_verification_sent", "Email verification sent"
    EMAIL_VERIFIED = "email_verified", "Email address verified"
    PASSWORD_RESET_REQUESTED = "password_reset_requested", "Password reset requested"
    PASSWORD_RESET_COMPLETED = "password_reset_completed", "Password reset completed"
    MFA_ENROLLED = "mfa_enrolled", "Second factor enrolled"
    MFA_REMOVED = "mfa_removed", "Second factor removed"
    MFA_SUCCEEDED = "mfa_succeeded", "Second factor used"
    MFA_FAILED = "mfa_failed", "Second factor refused"
    RECOVERY_CODE_USED = "recovery_code_used", "Recovery code used"
    RECOVERY_CODES_GENERATED = "recovery_codes_generated", "Recovery codes generated"
    MFA_MISSING = "mfa_required_missing", "MFA required but no factor enrolled"
    STEP_UP = "mfa_step_up", "Re-verified for a sensitive action"
    #: One row per run of ``manage.py bouncer_import`` (bouncer/users/imports.py), with its counts.
    ACCOUNTS_IMPORTED = "accounts_imported", "Accounts imported from another Django project"


class AuditEvent(models.Model):
    action = models.CharField(max_length=64, choices=AuditAction.choices, db_index=True)
    created_at = models.DateTimeField(db_index=True)
    # Null for a failed login by an unknown username; SET_NULL keeps history
    # when an account is deleted.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    #: The username as typed (failed logins), never a password or token.
    username = models.CharField(max_length=150, blank=True)
    #: Which mechanism: session, token, basic ...
    method = models.CharField(max_length=32, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="audit_user_recent")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(action__in=AuditAction.values), name="audit_event_action_known"
            ),
        ]

    def __str__(self) -> str:
        who = self.username or (self.user_id and f"user {self.user_id}") or "anonymous"
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {who}"
