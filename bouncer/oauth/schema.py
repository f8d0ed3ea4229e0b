"""OpenAPI description of the OAuth2 Bearer scheme for drf-spectacular."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class OAuth2Scheme(OpenApiAuthenticationExtension):
    target_class = "bouncer.oauth.authentication.OAuth2BearerAuthentication"
    name = "oauth2"

    def get_security_definition(self, auto_schema):
        return {
            "type": "oauth2",
            "description": "Access token from `/o/token/`, in the Authorization header only. "
            "`read` allows GET/HEAD/OPTIONS, `write` the other methods.",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": "/o/authorize/",
                    "tokenUrl": "/o/token/",
                    "refreshUrl": "/o/token/",
                    "scopes": {"read": "Read your data", "write": "Change your data"},
                },
                "clientCredentials": {"tokenUrl": "/o/token/", "scopes": {"read": "Read", "write": "Write"}},
            },
        }
