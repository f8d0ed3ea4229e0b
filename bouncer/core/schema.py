"""The OpenAPI description's shared parts (drf-spectacular): error shapes, error answers, summaries, tags.

Every error answer of the API refers to one of two shared components, the
shapes ``bouncer.core.exceptions`` builds:

- ``Error``: ``{"detail", "code"}``, the body of every non-OAuth error (a
  400 with field errors is ``FieldErrors``, offered beside it);
- ``OAuthError``: RFC 6749's ``{"error", "error_description"}``, for the
  OAuth2 protocol's own errors under ``/o/`` (bouncer/oauth/schema.py).

``BouncerAutoSchema`` (``DEFAULT_SCHEMA_CLASS``) adds to each DRF operation
the error answers its view can give, read from the view itself: ``401`` when
it runs authentication classes (a bad credential is refused even where none
is needed), ``403`` when it has a permission beyond ``AllowAny`` or takes an
unsafe method with session authentication (CSRF), ``404`` with a path
parameter or a page number, ``400``/``413``/``415`` when it takes a body,
``400`` with query parameters, ``429`` when it has throttles or is a way in
through the sign-in flow (its throttles and lockout). Explicit
``extend_schema(responses=...)`` entries keep their descriptions and
schemas, and are made to refer to the shared component too. An operation
with no security requirement gets ``[{}]`` (anonymous), so every operation
states one.
"""

from __future__ import annotations

import re

from drf_spectacular.openapi import AutoSchema
from rest_framework import permissions
from rest_framework.authentication import SessionAuthentication

ERROR_REF = {"$ref": "#/components/schemas/Error"}
FIELD_ERRORS_REF = {"$ref": "#/components/schemas/FieldErrors"}
OAUTH_ERROR_REF = {"$ref": "#/components/schemas/OAuthError"}
SHARED_ERROR_REFS = (ERROR_REF, OAUTH_ERROR_REF)

COMPONENTS = {
    "Error": {
        "type": "object",
        "description": (
            "Every API error: a human-readable `detail` and a stable snake_case `code` "
            "(docs/api.md lists them). Only the 401 for a missing credential has no `code` "
            '(SPEC.md keeps its body verbatim: `{"detail": "Authentication credentials were not provided."}`). '
            "Some errors carry more keys, named in the answer's description (`mfa_token` and `methods` "
            "of `mfa_required`)."
        ),
        "properties": {
            "detail": {"type": "string", "description": "What went wrong, for people."},
            "code": {"type": "string", "description": "What went wrong, for programs (stable)."},
        },
        "required": ["detail"],
        "example": {"detail": "Request was throttled. Expected available in 42 seconds.", "code": "throttled"},
    },
    "FieldErrors": {
        "type": "object",
        "description": (
            "A body that did not validate: each field name (or `non_field_errors`) maps to its messages; "
            "a nested field maps to the same shape."
        ),
        "additionalProperties": {
            "oneOf": [{"type": "array", "items": {}}, {"type": "object"}],
        },
        "example": {"password": ["This password is too short. It must contain at least 8 characters."]},
    },
    "OAuthError": {
        "type": "object",
        "description": "RFC 6749 section 5.2: the OAuth2 protocol's own errors, sent with `Cache-Control: no-store`.",
        "properties": {
            "error": {
                "type": "string",
                "description": "`invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`, "
                "`unsupported_grant_type`, `invalid_scope`, `authorization_pending`, `slow_down`, "
                "`expired_token`, `access_denied`, `invalid_token`, `insufficient_scope`, "
                "`temporarily_unavailable`, ...",
            },
            "error_description": {"type": "string"},
        },
        "required": ["error"],
        "example": {"error": "invalid_grant", "error_description": "Invalid credentials given."},
    },
}

#: The error answers, and what each one means when the view is the reason for it.
DESCRIPTIONS = {
    400: "The body or a parameter did not validate (field errors), or the body is malformed (`parse_error`), "
    "has too many fields (`too_many_fields`) or is refused by a rule (its `code`).",
    401: "No credential (`Authentication credentials were not provided.`, no `code`), or a credential "
    "that was sent is bad: `authentication_failed`, `token_invalid`, `token_expired`, `token_revoked`, ... "
    "With a `WWW-Authenticate` challenge.",
    403: "Not allowed: `permission_denied`, `insufficient_scope` (an OAuth2 token without `read`/`write`), "
    "`mfa_verification_required`, or a cookie-authenticated write without its CSRF token.",
    404: "`not_found`: no such object of yours (another user's id answers the same), or a page past the end.",
    405: "`method_not_allowed`.",
    409: "`conflict`: the request clashes with the current state.",
    413: "`too_large`: the body is over the size limit.",
    415: "`unsupported_media_type`: the body is not JSON, a form or multipart.",
    429: "`throttled` (with `Retry-After`), or `account_locked` after repeated failures.",
    502: "An upstream provider did not answer; retry.",
    503: "`temporarily_unavailable` / `service_unavailable`: the database or the cache is unreachable; retry.",
}

BODY_METHODS = ("POST", "PUT", "PATCH")


def error_schema(status: int, *, oauth: bool = False) -> dict:
    """The schema of an error answer: the shared component (and field errors for a 400)."""
    if oauth:
        return {"anyOf": [OAUTH_ERROR_REF, ERROR_REF]}
    if status == 400:
        return {"anyOf": [ERROR_REF, FIELD_ERRORS_REF]}
    return ERROR_REF


def error_response(status: int, description: str | None = None, *, oauth: bool = False) -> dict:
    """One error answer, as an OpenAPI response object."""
    return {
        "description": description or DESCRIPTIONS.get(status, "Error."),
        "content": {"application/json": {"schema": error_schema(status, oauth=oauth)}},
    }


def _refers_to_shared(schema: dict) -> bool:
    if schema in SHARED_ERROR_REFS:
        return True
    return any(_refers_to_shared(s) for key in ("anyOf", "oneOf", "allOf") for s in schema.get(key, []))


def error_response_normalise(response: dict, status: int) -> None:
    """Make an explicitly described error answer refer to the shared component, keeping its own shape beside it."""
    if not response.get("description"):
        response["description"] = DESCRIPTIONS.get(status, "Error.")
    content = response.setdefault("content", {})
    if not content:
        content["application/json"] = {"schema": error_schema(status)}
        return
    for media in content.values():
        schema = media.get("schema") or {}
        if not _refers_to_shared(schema):
            shared = error_schema(status)
            media["schema"] = {"anyOf": [schema, *shared.get("anyOf", [shared])]}


class BouncerAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus a summary, tags and every error answer the view can give."""

    def get_summary(self) -> str | None:
        # The first sentence of the docstring (of its first paragraph).
        text = " ".join((self.get_description() or "").split("\n\n", 1)[0].split())
        first = re.split(r"(?<=[.;:])\s", text, maxsplit=1)[0]
        return first.rstrip(".;:") or None

    def get_tags(self) -> list[str]:
        return [path_tag(self.path)]

    def _error_statuses(self, operation: dict) -> list[int]:
        view = self.view
        authenticators = view.get_authenticators()
        perms = [p.__class__ for p in view.get_permissions()]
        statuses = []
        has_body = self.method in BODY_METHODS and "requestBody" in operation
        query = any(p.get("in") == "query" for p in operation.get("parameters", []))
        if has_body or query:
            statuses.append(400)
        if authenticators:
            statuses.append(401)
        unsafe = self.method not in permissions.SAFE_METHODS
        csrf = unsafe and any(isinstance(a, SessionAuthentication) for a in authenticators)
        if csrf or any(p is not permissions.AllowAny for p in perms):
            statuses.append(403)
        paged = any(p.get("in") == "query" and p.get("name") == "page" for p in operation.get("parameters", []))
        if "{" in self.path or paged:
            statuses.append(404)
        if has_body:
            statuses += [413, 415]
        # A way in through the sign-in flow (users/signin.py's mark) is throttled
        # and locked out there, not by DRF throttle classes.
        if view.get_throttles() or getattr(view, "signin_method", None):
            statuses.append(429)
        return statuses

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for status, response in responses.items():
            if str(status)[0] in "45":
                error_response_normalise(response, int(status))
        for status in self._error_statuses(operation):
            responses.setdefault(str(status), error_response(status))
        operation["responses"] = dict(sorted(responses.items()))
        operation.setdefault("security", [{}])
        return operation


#: Tags, in the order the docs show them; the first prefix that matches names a path's tag.
TAGS = [
    ("accounts", "Register, profile, password change, session sign-in and the user list.", ("/api/accounts/",)),
    ("sessions", "Your sessions and devices: every live credential, and revoking them.", ("/api/accounts/sessions/",)),
    ("tokens", "DRF tokens, one per device (`Authorization: Token ...`).", ("/api/auth-token/",)),
    ("jwt", "JSON Web Tokens: obtain, refresh (rotated), verify, log out; the JWKS.", ("/api/token/", "/.well-known/")),
    ("mfa", "Second factors: the sign-in's second step, factor management, step-up, passkeys.", ("/api/auth/mfa/", "/api/auth/passkey/")),
    ("email", "Password reset and email verification (dj-rest-auth's paths).", ("/api/auth/password/", "/api/auth/registration/")),
    ("social", "Social sign-in with a provider's proof, and linked providers.", ("/api/auth/",)),
    ("articles", "The demo resource server.", ("/api/articles/",)),
    ("oauth2", "OAuth2 authorization server (django-oauth-toolkit): RFC 6749, 7009, 7662, 8414, 8628.", ("/o/",)),
    ("oidc", "OpenID Connect: discovery, keys, userinfo.", ("/o/.well-known/openid-configuration", "/o/.well-known/jwks.json", "/o/userinfo/")),
    ("health", "Liveness and readiness for load balancers and orchestrators.", ("/healthz", "/readyz")),
]
# Longest prefix wins, so /api/accounts/sessions/ is "sessions" and /o/userinfo/ is "oidc".
_PREFIXES = sorted(((prefix, name) for name, _, prefixes in TAGS for prefix in prefixes), key=lambda p: -len(p[0]))


def path_tag(path: str) -> str:
    for prefix, name in _PREFIXES:
        if path.startswith(prefix):
            return name
    return "other"


def postprocess_shared(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: the shared components, the tags, Basic only when it is on."""
    from django.conf import settings

    components = result.setdefault("components", {})
    components.setdefault("schemas", {}).update(COMPONENTS)
    result["tags"] = [{"name": name, "description": text} for name, text, _ in TAGS]
    if not settings.BOUNCER_BASIC_AUTH_ENABLED:
        _scheme_remove(result, "basicAuth")
    return result


def _scheme_remove(result: dict, name: str) -> None:
    result.get("components", {}).get("securitySchemes", {}).pop(name, None)
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "security" in operation:
                kept = [req for req in operation["security"] if name not in req]
                operation["security"] = kept or [{}]


def postprocess_health_paths(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: ``/healthz`` and ``/readyz`` (plain Django views)."""
    status = {"type": "object", "properties": {"status": {"type": "string"}}, "required": ["status"]}
    ready = {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "checks": {"type": "object", "additionalProperties": {"type": "string", "enum": ["ok", "fail"]}},
        },
        "required": ["status", "checks"],
    }

    def get(operation_id, summary, description, responses):
        return {"get": {"operationId": operation_id, "summary": summary, "description": description, "tags": ["health"],
                        "security": [{}], "responses": responses}}

    def body(schema, description):
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    paths = result.setdefault("paths", {})
    paths["/healthz"] = get(
        "healthz", "The process is up", "Liveness: the process answers, and which release it runs (`version`).",
        {"200": body({**status, "properties": {**status["properties"], "version": {"type": "string"}}}, "Up.")},
    )
    paths["/readyz"] = get(
        "readyz", "The database and the cache answer", "Readiness: `503` takes the node out of rotation.",
        {"200": body(ready, "Ready."), "503": body({"anyOf": [ready, ERROR_REF]}, "The database or the cache is unreachable.")},
    )
    return result
