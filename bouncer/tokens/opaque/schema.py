"""OpenAPI description of the ``Token`` header scheme for drf-spectacular."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class OpaqueTokenScheme(OpenApiAuthenticationExtension):
    target_class = "bouncer.tokens.opaque.authentication.OpaqueTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "DRF token from `POST /api/auth-token/`, sent as `Token <key>`.",
        }
