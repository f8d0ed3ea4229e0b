"""OpenAPI description of the Bearer JWT scheme for drf-spectacular."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class JwtScheme(OpenApiAuthenticationExtension):
    target_class = "bouncer.tokens.jwt.authentication.JwtAuthentication"
    name = "jwtAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Access token from `POST /api/token/` (or the access cookie in cookie mode).",
        }
