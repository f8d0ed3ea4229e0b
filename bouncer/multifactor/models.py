"""What Bouncer keeps around allauth's factors (``allauth.mfa.models.Authenticator``).

``MfaChallenge`` is one ceremony in progress: a sign-in waiting for its second
step (the ``mfa_token`` is its secret, stored only as a digest), a WebAuthn
registration or passkey sign-in waiting for the browser's answer, a TOTP
secret shown but not confirmed yet. Single use is one conditional UPDATE
(``used_at IS NULL``), so two nodes cannot both complete one. In the database,
not the cache: a challenge must hold on every node whether or not Redis is on.

``StepUp`` is a recent re-verification of one credential (its public id in the
credential registry), for the actions that ask for one.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ChallengePurpose(models.TextChoices):
    SIGNIN = "signin", "Sign-in waiting for its second step"
    ENROL = "enrol", "Sign-in waiting for a first factor (MFA required)"
    TOTP_SETUP = "totp_setup", "TOTP secret shown, not confirmed"
    WEBAUTHN_REGISTER = "webauthn_register", "WebAuthn registration"
    PASSKEY_SIGNIN = "passkey_signin", "Passkey sign-in"
    STEP_UP = "step_up", "Security key re-verification"


class MfaChallenge(models.Model):
    digest = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=20, choices=ChallengePurpose.choices)
    #: Null for a passkey sign-in, where the browser's answer names the user.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    #: How the user signed in (session, page, token, jwt, social ...), for the audit rows.
    method = models.CharField(max_length=32, blank=True)
    #: What to issue when the step completes: session | token | jwt, and its options.
    issue = models.CharField(max_length=16, blank=True)
    data = models.JSONField(default=dict, blank=True)
    #: The user's password hash fingerprint when the sign-in started: a password
    #: change or reset in between ends the challenge.
    password_fingerprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    failures = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "MFA challenge"


class StepUp(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    #: The credential registry's public id of the credential that stepped up.
    credential = models.CharField(max_length=64)
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "credential"], name="stepup_one_per_credential")]
