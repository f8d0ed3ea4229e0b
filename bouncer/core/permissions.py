"""Permission classes shared across apps, one hook each.

``OAuth2MethodScope`` lives here rather than in ``bouncer.oauth``: every app's
API composes it (and it is a default permission), it needs only the toolkit's
token model, and account code must not import a credential kind's app.
``MfaVerified`` likewise: any app's API composes it, and it asks the
credential registry, never a kind.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from oauth2_provider.models import AbstractAccessToken
from oauth2_provider.settings import oauth2_settings
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from bouncer.core.assurance import amr_is_mfa
from bouncer.core.credentials import credential_amr
from bouncer.core.exceptions import error_body


class SameOriginOrNonBrowser(BasePermission):
    """Refuses a cross-site browser request to an endpoint without CSRF checks.

    Login endpoints take no CSRF token (tutorial 000's curl walkthrough sends
    none), which would let another site sign a victim's browser into the
    attacker's account ("login CSRF"). Browsers always send ``Origin`` on a
    cross-site POST; curl and mobile apps send none. So: no Origin, or an
    Origin equal to this host or listed in ``CSRF_TRUSTED_ORIGINS``, passes.
    """

    message = "Cross-site request refused."

    def has_permission(self, request, view) -> bool:
        origin = request.META.get("HTTP_ORIGIN")
        if not origin:
            return True
        if origin in settings.CSRF_TRUSTED_ORIGINS:
            return True
        parts = urlsplit(origin)
        return parts.scheme == request.scheme and parts.netloc == request.get_host()


class InsufficientScope(PermissionDenied):
    """403 with the RFC 6750 challenge; DRF's handler sends ``auth_header`` as WWW-Authenticate."""

    default_code = "insufficient_scope"

    def __init__(self, scope: str) -> None:
        super().__init__(error_body(f"This token lacks the '{scope}' scope.", "insufficient_scope"))
        self.auth_header = f'Bearer realm="bouncer", error="insufficient_scope", scope="{scope}"'


class OAuth2MethodScope(BasePermission):
    """OAuth2 tokens need ``read`` for safe methods and ``write`` for the others.

    Any other credential (session, DRF token, JWT, Basic) passes untouched:
    compose it with ``&`` into a view's permissions. Raises instead of
    returning False so the 403 carries ``WWW-Authenticate: Bearer
    error="insufficient_scope", scope="..."``.
    """

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, AbstractAccessToken):
            return True
        scope = oauth2_settings.READ_SCOPE if request.method in SAFE_METHODS else oauth2_settings.WRITE_SCOPE
        if token.allow_scopes([scope]):
            return True
        raise InsufficientScope(scope)


class MfaVerificationRequired(PermissionDenied):
    default_code = "mfa_verification_required"

    def __init__(self) -> None:
        super().__init__(error_body("This requires a sign-in with a second factor. Sign in again with it.", "mfa_verification_required"))


class MfaVerified(BasePermission):
    """The request's credential was made by a sign-in that proved a second factor (``mfa`` in its amr).

    The amr comes from ``credential_amr``, one answer for every kind, read
    from what authentication already loaded (no query): a session's data, a
    DRF token's (cached) row, a JWT's signed claim. Basic is a password only;
    OAuth2 access tokens are refused (delegated to an application, not a
    sign-in: bouncer/oauth/services.py ``OAuthCredentials.current_amr``).
    Anonymous requests get False, so DRF answers 401; an authenticated
    credential without ``mfa`` gets 403 ``mfa_verification_required``.
    Compose it: ``IsAuthenticated & MfaVerified``.
    """

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if amr_is_mfa(credential_amr(request=request)):
            return True
        raise MfaVerificationRequired()
