"""OpenAPI descriptions of the session scheme and the optional Basic scheme for drf-spectacular."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class SessionScheme(OpenApiAuthenticationExtension):
    """DRF's SessionAuthentication with Bouncer's cookie names (``__Host-`` in production) and its CSRF rule."""

    target_class = "rest_framework.authentication.SessionAuthentication"
    name = "sessionAuth"
    priority = 1  # over drf-spectacular's own ``cookieAuth``

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": (
                "Session cookie from `POST /api/accounts/login/` (or the sign-in page). Unsafe methods "
                f"also need the CSRF token: the `{settings.CSRF_COOKIE_NAME}` cookie's value in the "
                f"`X-CSRFToken` header (`GET /api/accounts/csrf/` sets the cookie); without it, `403`."
            ),
        }


class OptionalBasicScheme(OpenApiAuthenticationExtension):
    """Listed only when Basic is on (bouncer.core.schema.postprocess_shared removes it otherwise)."""

    target_class = "bouncer.users.authentication.OptionalBasicAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "Accepted only when BOUNCER_BASIC_AUTH=1 (meant for tests and scripts).",
        }
