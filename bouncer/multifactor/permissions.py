"""Who may manage a user's factors: one-hook permission classes of ``/api/auth/mfa/``.

A user's own sign-in manages its factors: a browser session, a DRF token or a
JWT (the kinds of the credential registry, so a kind added later is refused
until it is named here). An OAuth2 access token is a partner application
acting for the user: it must not enrol, remove or step up a factor, whatever
its scopes. Basic sends the password on every request and has no credential
to step up: refused too.

The enrolment endpoints also serve a sign-in that must enrol a first factor
(``BOUNCER_MFA_REQUIRED``): its ``mfa_token`` in the body stands in for a
credential there, and only there.
"""

from __future__ import annotations

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from bouncer.core import credentials
from bouncer.core.exceptions import error_body
from bouncer.core.permissions import SameOriginOrNonBrowser

#: The credential kinds (bouncer/core/credentials.py) that may manage factors.
MANAGING_KINDS = frozenset({"session", "token", "jwt"})


class CredentialRefused(PermissionDenied):
    default_code = "credential_not_allowed"

    def __init__(self) -> None:
        super().__init__(
            error_body(
                "Factors are managed with your own sign-in (a session, a DRF token or a JWT), "
                "not an OAuth2 access token or Basic authentication.",
                "credential_not_allowed",
            )
        )


def enrolment_token(request) -> str | None:
    """The ``mfa_token`` of the body, when there is one (a dict body with a string)."""
    data = request.data
    value = data.get("mfa_token") if hasattr(data, "get") else None
    return value if isinstance(value, str) and value else None


class FactorManagingCredential(BasePermission):
    """Signed in with a session, a DRF token or a JWT; 403 ``credential_not_allowed`` for OAuth2 and Basic.

    Compose after ``IsAuthenticated`` (which answers 401 without a credential).
    """

    def has_permission(self, request, view) -> bool:
        if credentials.credential_current_kind(request=request) in MANAGING_KINDS:
            return True
        raise CredentialRefused()


class EnrolmentCaller(BasePermission):
    """An ``mfa_token`` in the body (checked by the view's service), or a signed-in managing credential.

    Without either: 401 (DRF's ``NotAuthenticated``, with the challenge).
    """

    def has_permission(self, request, view) -> bool:
        if enrolment_token(request) is not None:
            # No credential, so no CSRF check: refuse cross-site browsers like the sign-in endpoints do.
            if not SameOriginOrNonBrowser().has_permission(request, view):
                raise PermissionDenied(SameOriginOrNonBrowser.message)
            return True
        if not (request.user and request.user.is_authenticated):
            return False
        return FactorManagingCredential().has_permission(request, view)
