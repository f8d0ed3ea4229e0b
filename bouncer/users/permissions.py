"""Permission classes of the accounts API, one hook each."""

from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission


class IsSessionAuthenticated(BasePermission):
    """The request was authenticated by a session cookie.

    Session logout ends a browser session; a caller signed in with a token
    would get a "success" that signed nothing out, so it is refused instead.
    """

    message = "This ends a browser session. Sign a token out at /api/auth-token/logout/."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.successful_authenticator, SessionAuthentication)
