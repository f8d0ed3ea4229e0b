"""Django REST framework: the authentication order lives here and only here."""

import bouncer
from config.settings import env

REST_FRAMEWORK = {
    # Order matters: DRF answers 401 with the WWW-Authenticate challenge of the
    # FIRST class, so it must be one with a challenge (Session has none and
    # would turn "no credentials" into 403). Each class returns None for a
    # credential that is not its kind, so the next one gets its turn.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # JWT first: its challenge is the one clients see (Bearer), and it
        # returns None for Bearer values that are not Bouncer's JWTs.
        "bouncer.tokens.jwt.authentication.JwtAuthentication",
        # Every other Bearer value: an OAuth2 access token (header only).
        "bouncer.oauth.authentication.OAuth2BearerAuthentication",
        "bouncer.tokens.opaque.authentication.OpaqueTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",  # CSRF enforced for writes
        "bouncer.users.authentication.OptionalBasicAuthentication",
    ],
    # OAuth2 tokens need `read` for safe methods and `write` for the others
    # (other credentials pass); views with their own permissions compose it.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "bouncer.core.permissions.OAuth2MethodScope",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "bouncer.core.negotiation.SingleRendererNegotiation",
    "DEFAULT_PARSER_CLASSES": [
        "bouncer.core.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": env.PAGE_SIZE,
    "DEFAULT_SCHEMA_CLASS": "bouncer.core.schema.BouncerAutoSchema",
    "EXCEPTION_HANDLER": "bouncer.core.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_THROTTLE_RATES": (
        {scope: "100000/min" for scope in env.THROTTLE_RATES} if env.THROTTLE_RELAXED else dict(env.THROTTLE_RATES)
    ),
    "NUM_PROXIES": 1 if env.BEHIND_PROXY else 0,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Bouncer API",
    "DESCRIPTION": (
        "Self-hostable authentication server for Django REST Framework APIs. "
        "Every endpoint lists the credential types it accepts."
    ),
    "VERSION": bouncer.__version__,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
    # The parts drf-spectacular cannot see: the shared error components and tags,
    # and the plain Django views (/o/, the JWKS, health). docs/api.md.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "bouncer.core.schema.postprocess_health_paths",
        "bouncer.tokens.jwt.schema.postprocess_jwks_path",
        "bouncer.oauth.schema.postprocess_oauth_paths",
        "bouncer.core.schema.postprocess_shared",
    ],
}
