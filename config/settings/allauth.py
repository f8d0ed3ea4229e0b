"""django-allauth (account, socialaccount) and outgoing mail.

allauth does the provider protocols (OAuth2 and OpenID Connect redirects,
state, PKCE, code exchange, id_token checks against the provider's JWKS) and
keeps the email addresses with their verified flag. Bouncer keeps its own
sign-in flow, credentials and error shapes: allauth's account pages are not
mounted (config/urls.py mounts the provider URLs only), its adapters hand every
social sign-in to ``bouncer.social.services`` and every mail to
``bouncer.users.adapters``.
"""

from config.settings import env

ACCOUNT_ADAPTER = "bouncer.users.adapters.BouncerAccountAdapter"
SOCIALACCOUNT_ADAPTER = "bouncer.social.adapters.BouncerSocialAccountAdapter"

ACCOUNT_USER_MODEL_USERNAME_FIELD = "username"
ACCOUNT_USER_MODEL_EMAIL_FIELD = "email"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_VERIFICATION = env.EMAIL_VERIFICATION
ACCOUNT_EMAIL_CONFIRMATION_HMAC = True
# allauth counts in whole days; Bouncer's own check uses the seconds (bouncer/users/email/).
ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = max(1, -(-env.EMAIL_VERIFY_SECONDS // 86400))
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Bouncer] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if env.PRODUCTION else "http"
# Throttling has one home (bouncer/core/throttling.py, rates in env.py):
# allauth's own counters would be a second, differently keyed set.
ACCOUNT_RATE_LIMITS = False
PASSWORD_RESET_TIMEOUT = env.PASSWORD_RESET_SECONDS

# Social accounts: Bouncer decides who a provider's identity is
# (bouncer/social/services.py: existing link, else a verified matching email,
# else a new account); allauth's signup form and email-based auto-connect are
# never reached, so they are switched off here too.
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = False
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_QUERY_EMAIL = True
# A GET on /accounts/<provider>/login/ shows a button that POSTs (CSRF): a
# link on another site cannot start a sign-in in the victim's browser.
SOCIALACCOUNT_LOGIN_ON_GET = False
# The provider's access and refresh tokens are not needed after sign-in: not kept.
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_REQUESTS_TIMEOUT = 10


def _apps(client_id: str, secret: str, **extra) -> list[dict]:
    return [{"client_id": client_id, "secret": secret, "key": "", **extra}] if client_id else []


SOCIALACCOUNT_PROVIDERS = {
    "google": {
        "APPS": _apps(env.SOCIAL_GOOGLE_CLIENT_ID, env.SOCIAL_GOOGLE_SECRET),
        "SCOPE": ["openid", "profile", "email"],
        "AUTH_PARAMS": {"access_type": "online"},
        "OAUTH_PKCE_ENABLED": True,
    },
    "github": {
        "APPS": _apps(env.SOCIAL_GITHUB_CLIENT_ID, env.SOCIAL_GITHUB_SECRET),
        "SCOPE": ["read:user", "user:email"],
        "OAUTH_PKCE_ENABLED": True,
    },
    "facebook": {
        "APPS": _apps(env.SOCIAL_FACEBOOK_CLIENT_ID, env.SOCIAL_FACEBOOK_SECRET),
        "METHOD": "oauth2",
        "SCOPE": ["email", "public_profile"],
        "FIELDS": ["id", "email", "name", "first_name", "last_name"],
        # allauth calls Facebook's token endpoint with GET and then drops the
        # PKCE verifier (it adds it to POST bodies only): a challenge sent at
        # the start would make Facebook refuse every exchange. The one-time
        # state still binds the callback to this browser; the app secret
        # guards the code (tests/social/test_browser_providers.py).
        "OAUTH_PKCE_ENABLED": False,
        "VERSION": "v19.0",
    },
    "openid_connect": {
        "APPS": _apps(
            env.SOCIAL_OIDC_CLIENT_ID,
            env.SOCIAL_OIDC_SECRET,
            provider_id=env.SOCIAL_OIDC_ID,
            name=env.SOCIAL_OIDC_NAME,
            settings={"server_url": env.SOCIAL_OIDC_URL, "oauth_pkce_enabled": True},
        )
        if env.SOCIAL_OIDC_URL
        else [],
        "OAUTH_PKCE_ENABLED": True,
    },
}

# Mail: SMTP when a host is set, else the console (the dev server's log).
if env.EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
EMAIL_HOST = env.EMAIL_HOST or "localhost"
EMAIL_PORT = env.EMAIL_PORT
EMAIL_USE_TLS = env.EMAIL_SECURITY == "starttls"
EMAIL_USE_SSL = env.EMAIL_SECURITY == "ssl"
EMAIL_HOST_USER = env.EMAIL_USER
EMAIL_HOST_PASSWORD = env.EMAIL_PASSWORD
EMAIL_TIMEOUT = env.EMAIL_TIMEOUT_SECONDS
DEFAULT_FROM_EMAIL = env.EMAIL_FROM
SERVER_EMAIL = env.EMAIL_FROM

BOUNCER_EMAIL = {
    "VERIFICATION": env.EMAIL_VERIFICATION,
    "FRONTEND_RESET_URL": env.FRONTEND_RESET_URL,
    "FRONTEND_VERIFY_URL": env.FRONTEND_VERIFY_URL,
    "VERIFY_SECONDS": env.EMAIL_VERIFY_SECONDS,
    # Mails are rendered in the request and sent by a background thread
    # (bouncer/users/email/outbox.py): SMTP time never shows in an answer.
    "SEND_IN_BACKGROUND": True,
}
# A reset asked for an address with no account sends a notice to that
# address (allauth's default), so both cases send one mail.
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = True
