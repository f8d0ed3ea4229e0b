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


def postprocess_jwks_path(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: ``/.well-known/jwks.json`` (a plain Django view)."""
    result.setdefault("paths", {})["/.well-known/jwks.json"] = {
        "get": {
            "operationId": "jwks",
            "summary": "Public keys of Bouncer's JWTs",
            "description": "The JWK set other services verify Bouncer's access tokens with, without calling Bouncer "
            "(each key with its `kid`; empty with HS256). Cacheable for 5 minutes.",
            "tags": ["jwt"],
            "security": [{}],
            "responses": {
                "200": {
                    "description": "The key set.",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "keys": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {"kid": {"type": "string"}, "kty": {"type": "string"}, "alg": {"type": "string"}},
                                        },
                                    }
                                },
                                "required": ["keys"],
                            }
                        }
                    },
                }
            },
        }
    }
    return result
