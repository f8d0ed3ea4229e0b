"""Scopes on the API: one hook, and only for requests signed in with an OAuth2 token."""

from __future__ import annotations

from oauth2_provider.models import AbstractAccessToken
from oauth2_provider.settings import oauth2_settings
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from bouncer.core.exceptions import error_body


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
