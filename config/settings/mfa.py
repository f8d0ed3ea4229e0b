"""Multi-factor sign-in: django-allauth's ``mfa`` app for the factors, Bouncer's flow around them.

allauth keeps the factors (its ``Authenticator`` rows: TOTP secrets, WebAuthn
credentials) and does the cryptography (RFC 6238 codes, python-fido2's
WebAuthn server). Bouncer keeps the sign-in flow, the ``mfa_token``, the
credentials and the error shapes: allauth's own MFA pages and login stages are
never mounted or reached (bouncer/multifactor/, docs/mfa.md).
"""

from config.settings import env

MFA_ADAPTER = "bouncer.multifactor.adapters.BouncerMfaAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = env.MFA_PASSKEY_LOGIN
MFA_TOTP_PERIOD = 30
MFA_TOTP_DIGITS = 6
# One period either side: a phone's clock a little off still signs in. A code
# used once is refused for the rest of its window (bouncer/multifactor/totp.py).
MFA_TOTP_TOLERANCE = 1
MFA_TOTP_ISSUER = env.WEBAUTHN_RP_NAME
MFA_RECOVERY_CODE_COUNT = 10
MFA_WEBAUTHN_USER_VERIFICATION = "preferred"
# Throttling has one home (bouncer/core/throttling.py).
MFA_RATE_LIMITS = {}

BOUNCER_MFA = {
    "REQUIRED": env.MFA_REQUIRED,
    "TOKEN_SECONDS": env.MFA_TOKEN_SECONDS,
    "TOKEN_ATTEMPTS": env.MFA_TOKEN_ATTEMPTS,
    "STEP_UP_SECONDS": env.MFA_STEP_UP_SECONDS,
    "PASSKEY_LOGIN": env.MFA_PASSKEY_LOGIN,
    "RP_ID": env.WEBAUTHN_RP_ID,
    "RP_NAME": env.WEBAUTHN_RP_NAME,
    "ORIGINS": env.WEBAUTHN_ORIGINS,
    # Development only: http://localhost on any port (the dev server, the tests' live servers).
    "LOCALHOST_ORIGINS": not env.PRODUCTION,
}
