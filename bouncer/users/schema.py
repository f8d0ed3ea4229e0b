"""OpenAPI description of the optional Basic scheme for drf-spectacular."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class OptionalBasicScheme(OpenApiAuthenticationExtension):
    target_class = "bouncer.users.authentication.OptionalBasicAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "Accepted only when BOUNCER_BASIC_AUTH=1 (meant for tests and scripts).",
        }
