"""OpenAPI description of /o/ (drf-spectacular): the OAuth2 and OpenID Connect schemes and endpoints.

The toolkit's endpoints are plain Django views, which drf-spectacular does not
see, so ``postprocess_oauth_paths`` (a postprocessing hook named in
config/settings/drf.py) adds them from the tables below: each operation with
its summary, its form body, its answers, and its errors in RFC 6749's shape
(the shared ``OAuthError`` component of ``bouncer.core.schema``; the answers
Bouncer's own handlers give under /o/, such as a 404, use ``Error``).
HTML pages (consent, device code entry, application management, RP logout)
stay out: they are for browsers, not API clients.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension

from bouncer.core.schema import ERROR_REF, OAUTH_ERROR_REF, error_response

GRANT_AUTHORIZATION_CODE = "authorization_code"
GRANT_PASSWORD = "password"
GRANT_CLIENT_CREDENTIALS = "client_credentials"
GRANT_REFRESH = "refresh_token"
GRANT_DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


def _grants() -> list[str]:
    return list(settings.OAUTH2_PROVIDER.get("OAUTH2_GRANT_TYPES_SUPPORTED", []))


def _url(path: str) -> str:
    """An absolute URL with BOUNCER_OIDC_ISSUER set (its origin), else the path."""
    issuer = settings.OAUTH2_PROVIDER.get("OIDC_ISS_ENDPOINT") or ""
    if issuer.endswith("/o"):
        issuer = issuer[: -len("/o")]
    return f"{issuer}{path}"


def _scopes() -> dict[str, str]:
    return dict(settings.OAUTH2_PROVIDER["SCOPES"])


class OAuth2Scheme(OpenApiAuthenticationExtension):
    """An OAuth2 access token (every enabled flow) or, the same token, an OpenID Connect sign-in."""

    target_class = "bouncer.oauth.authentication.OAuth2BearerAuthentication"
    name = ["oauth2", "openIdConnect"]

    def get_security_requirement(self, auto_schema):
        from bouncer.core.permissions import OAuth2MethodScope

        perms = [p.__class__ for p in auto_schema.view.get_permissions()]
        needs = []
        if any(issubclass(p, OAuth2MethodScope) for p in perms) or _composes(auto_schema.view, OAuth2MethodScope):
            needs = ["read"] if auto_schema.method in ("GET", "HEAD", "OPTIONS") else ["write"]
        return [{"oauth2": needs}, {"openIdConnect": needs}]

    def get_security_definition(self, auto_schema):
        return [oauth2_scheme(), openid_connect_scheme()]


def _composes(view, permission_class) -> bool:
    """Whether a composed permission (``A & B | C``) of the view includes ``permission_class``."""

    def walk(perm) -> bool:
        if isinstance(perm, permission_class):
            return True
        return any(walk(getattr(perm, side)) for side in ("op1", "op2", "perm") if hasattr(perm, side))

    return any(walk(p) for p in view.get_permissions())


def oauth2_scheme() -> dict:
    grants = _grants()
    scopes = _scopes()
    flows = {}
    if GRANT_AUTHORIZATION_CODE in grants:
        flows["authorizationCode"] = {
            "authorizationUrl": _url("/o/authorize/"),
            "tokenUrl": _url("/o/token/"),
            **({"refreshUrl": _url("/o/token/")} if GRANT_REFRESH in grants else {}),
            "scopes": scopes,
        }
    if GRANT_PASSWORD in grants:
        flows["password"] = {
            "tokenUrl": _url("/o/token/"),
            **({"refreshUrl": _url("/o/token/")} if GRANT_REFRESH in grants else {}),
            "scopes": scopes,
        }
    if GRANT_CLIENT_CREDENTIALS in grants:
        flows["clientCredentials"] = {"tokenUrl": _url("/o/token/"), "scopes": scopes}
    device = (
        " The device flow (RFC 8628: `POST /o/device-authorization/`, then the `device_code` grant) "
        "issues the same tokens; OpenAPI 3.0 has no flow object for it."
        if GRANT_DEVICE in grants
        else ""
    )
    return {
        "type": "oauth2",
        "description": "Access token from `/o/token/`, in the Authorization header only (`Bearer ...`). "
        "`read` allows GET/HEAD/OPTIONS, `write` the other methods. PKCE (S256) is required for the "
        "authorization code flow; the password grant only for applications registered with it." + device,
        "flows": flows,
    }


def openid_connect_scheme() -> dict:
    return {
        "type": "openIdConnect",
        "openIdConnectUrl": _url("/o/.well-known/openid-configuration"),
        "description": "OpenID Connect: an access token issued with the `openid` scope (and an id_token beside it).",
    }


# --- the /o/ endpoints -----------------------------------------------------------------------------------------

FORM = "application/x-www-form-urlencoded"
_CLIENT_FIELDS = {
    "client_id": {"type": "string", "description": "With `client_secret` in the body, or both in HTTP Basic (RFC 6749 2.3.1)."},
    "client_secret": {"type": "string", "description": "Confidential clients only."},
}
_SCOPE = {"type": "string", "description": "Space-separated: `read`, `write`, `openid`, `profile`, `email`.", "example": "read"}


def _grant(grant: str, description: str, required: list[str], fields: dict) -> dict:
    return {
        "title": grant,
        "type": "object",
        "description": description,
        "properties": {"grant_type": {"type": "string", "enum": [grant]}, **fields, **_CLIENT_FIELDS},
        "required": ["grant_type", *required],
    }


def _token_request() -> dict:
    grants = {
        GRANT_AUTHORIZATION_CODE: _grant(
            GRANT_AUTHORIZATION_CODE,
            "Redeem an authorization code (single use) with its PKCE verifier.",
            ["code", "redirect_uri", "code_verifier"],
            {"code": {"type": "string"}, "redirect_uri": {"type": "string"}, "code_verifier": {"type": "string"}},
        ),
        GRANT_REFRESH: _grant(
            GRANT_REFRESH,
            "Rotate a refresh token; a replay of a rotated one revokes the whole family.",
            ["refresh_token"],
            {"refresh_token": {"type": "string"}, "scope": _SCOPE},
        ),
        GRANT_CLIENT_CREDENTIALS: _grant(
            GRANT_CLIENT_CREDENTIALS, "A token for the client itself (confidential clients).", [], {"scope": _SCOPE}
        ),
        GRANT_PASSWORD: _grant(
            GRANT_PASSWORD,
            "Tutorial 000's grant, for applications registered with it; through the sign-in flow (throttle, lockout, "
            "audit, second factor).",
            ["username", "password"],
            {"username": {"type": "string"}, "password": {"type": "string", "format": "password"}, "scope": _SCOPE},
        ),
        GRANT_DEVICE: _grant(
            GRANT_DEVICE,
            "Poll for the tokens of a device authorization (RFC 8628).",
            ["device_code"],
            {"device_code": {"type": "string"}},
        ),
    }
    enabled = _grants()
    return {
        "required": True,
        "content": {FORM: {"schema": {"oneOf": [schema for grant, schema in grants.items() if grant in enabled]}}},
    }


_TOKEN_OUTPUT = {
    "type": "object",
    "properties": {
        "access_token": {"type": "string"},
        "token_type": {"type": "string", "example": "Bearer"},
        "expires_in": {"type": "integer"},
        "scope": {"type": "string"},
        "refresh_token": {"type": "string"},
        "id_token": {"type": "string", "description": "With the `openid` scope: an RS256 JWT."},
    },
    "required": ["access_token", "token_type", "expires_in"],
}
_INTROSPECTION_OUTPUT = {
    "type": "object",
    "description": "RFC 7662: `{\"active\": false}` for an unknown, expired or revoked token.",
    "properties": {
        "active": {"type": "boolean"},
        "scope": {"type": "string"},
        "exp": {"type": "integer"},
        "client_id": {"type": "string"},
        "username": {"type": "string"},
    },
    "required": ["active"],
}
_DEVICE_OUTPUT = {
    "type": "object",
    "properties": {
        "device_code": {"type": "string"},
        "user_code": {"type": "string"},
        "verification_uri": {"type": "string"},
        "verification_uri_complete": {"type": "string"},
        "expires_in": {"type": "integer"},
        "interval": {"type": "integer"},
    },
    "required": ["device_code", "user_code", "verification_uri", "expires_in"],
}
_USERINFO_OUTPUT = {
    "type": "object",
    "description": "The claims the token's scopes allow: `sub` always, `email` with `email`, names with `profile`.",
    "properties": {"sub": {"type": "string"}},
    "required": ["sub"],
}
_JWKS_OUTPUT = {
    "type": "object",
    "properties": {"keys": {"type": "array", "items": {"type": "object", "properties": {"kid": {"type": "string"}}}}},
    "required": ["keys"],
}
_METADATA_OUTPUT = {
    "type": "object",
    "properties": {
        "issuer": {"type": "string"},
        "authorization_endpoint": {"type": "string"},
        "token_endpoint": {"type": "string"},
        "jwks_uri": {"type": "string"},
    },
    "required": ["issuer", "token_endpoint"],
}

_OAUTH_401 = "`invalid_client`: the client did not authenticate (with a `WWW-Authenticate: Basic` challenge)."
_OAUTH_429 = "`rate_limited`: too many requests (or failed client authentications) from this address or client (`Retry-After`)."
_OAUTH_413 = "`invalid_request`: the body is over the size limit."


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _oauth(status: int, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": OAUTH_ERROR_REF}}}


def _form(properties: dict, required: list[str]) -> dict:
    return {"required": True, "content": {FORM: {"schema": {"type": "object", "properties": properties, "required": required}}}}


def _operation(operation_id: str, summary: str, description: str, tag: str, responses: dict, **extra) -> dict:
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "tags": [tag],
        "security": extra.pop("security", [{}]),
        **extra,
        "responses": dict(sorted(responses.items())),
    }


_AUTHORIZE_PARAMETERS = [
    {"name": name, "in": "query", "required": required, "schema": schema, "description": text}
    for name, required, schema, text in [
        ("response_type", True, {"type": "string", "enum": ["code"]}, "Only `code`: no implicit or hybrid flow."),
        ("client_id", True, {"type": "string"}, "The application's client id."),
        ("redirect_uri", False, {"type": "string"}, "Exactly one of the application's registered URIs."),
        ("scope", False, {"type": "string"}, "Space-separated scopes; `read` when absent."),
        ("state", False, {"type": "string"}, "Echoed back to the redirect URI."),
        ("code_challenge", False, {"type": "string"}, "PKCE (required for public clients and every code client)."),
        ("code_challenge_method", False, {"type": "string", "enum": ["S256"]}, "S256 only."),
        ("nonce", False, {"type": "string"}, "OpenID Connect: copied into the id_token."),
        ("prompt", False, {"type": "string"}, "OpenID Connect: `none`, `login`, `consent`."),
    ]
]


def oauth_paths() -> dict:
    """Every JSON endpoint under /o/, as OpenAPI path items."""
    client_errors = {
        400: _oauth(400, "`invalid_request` (a missing or repeated parameter, a NUL byte), `unsupported_token_type`."),
        401: _oauth(401, _OAUTH_401),
        413: _oauth(413, _OAUTH_413),
        429: _oauth(429, _OAUTH_429),
    }
    paths = {
        "/o/authorize/": {
            "get": _operation(
                "oauth_authorize",
                "Start an authorization (the consent page)",
                "A browser endpoint: without a session it redirects to the sign-in page, then shows the consent page "
                "(HTML), then redirects to the client's `redirect_uri` with `code`, `state` and `iss` (or `error`). "
                "Errors that cannot go back to the client (unknown client, unregistered redirect URI) answer RFC 6749 JSON.",
                "oauth2",
                {
                    200: {"description": "The consent page (HTML).", "content": {"text/html": {"schema": {"type": "string"}}}},
                    302: {"description": "To the sign-in page, or to `redirect_uri` with `code` (or `error`)."},
                    400: _oauth(400, "`invalid_request`, `invalid_client_id`, `mismatching_redirect_uri`, ... (cannot be redirected)."),
                    401: _oauth(401, "`invalid_client`: unknown client id."),
                    403: error_response(403, "The signed-in session is refused (for instance, a second factor is owed)."),
                    413: _oauth(413, _OAUTH_413),
                },
                parameters=_AUTHORIZE_PARAMETERS,
                security=[{"sessionAuth": []}, {}],
            )
        },
        "/o/token/": {
            "post": _operation(
                "oauth_token",
                "Issue tokens (every grant)",
                "RFC 6749 token endpoint, form-encoded. Grants: "
                + ", ".join(f"`{g}`" for g in _grants())
                + ". Confidential clients authenticate with HTTP Basic or `client_id` + `client_secret` in the body; "
                "public clients send `client_id`. Throttled per address (and, for the password grant, per account).",
                "oauth2",
                {
                    200: _json(_TOKEN_OUTPUT, "The tokens (RFC 6749 5.1), `Cache-Control: no-store`."),
                    400: _oauth(400, "`invalid_request`, `invalid_grant` (bad or used code, bad password, rotated or "
                                "revoked refresh token), `unauthorized_client`, `unsupported_grant_type`, `invalid_scope`, "
                                "`authorization_pending`, `slow_down`, `expired_token`."),
                    401: {
                        "description": "`invalid_client`, or a password grant for an account with a second factor "
                        "(`mfa_required`, with `mfa_token`: complete at /api/auth/mfa/authenticate/).",
                        "content": {"application/json": {"schema": {"anyOf": [OAUTH_ERROR_REF, ERROR_REF]}}},
                    },
                                413: _oauth(413, _OAUTH_413),
                    429: {
                        "description": _OAUTH_429 + " `account_locked` for the password grant.",
                        "content": {"application/json": {"schema": {"anyOf": [OAUTH_ERROR_REF, ERROR_REF]}}},
                    },
                    503: _oauth(503, "`temporarily_unavailable`: retry."),
                },
                requestBody=_token_request(),
            )
        },
        "/o/revoke_token/": {
            "post": _operation(
                "oauth_revoke_token",
                "Revoke an access or refresh token",
                "RFC 7009. The client authenticates as at the token endpoint; an unknown token is still `200`.",
                "oauth2",
                {200: {"description": "Revoked (or never known)."}, **client_errors},
                requestBody=_form(
                    {"token": {"type": "string"}, "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]}, **_CLIENT_FIELDS},
                    ["token"],
                ),
            )
        },
        "/o/introspect/": {
            "post": _operation(
                "oauth_introspect",
                "Introspect a token",
                "RFC 7662, for authenticated confidential clients only (HTTP Basic or the form body); the token in the body.",
                "oauth2",
                {200: _json(_INTROSPECTION_OUTPUT, "The token's state."), **client_errors},
                requestBody=_form({"token": {"type": "string"}, **_CLIENT_FIELDS}, ["token"]),
            )
        },
        "/o/device-authorization/": {
            "post": _operation(
                "oauth_device_authorization",
                "Start a device authorization",
                "RFC 8628: the device shows `user_code` and `verification_uri` and polls `/o/token/` with the "
                "device_code grant.",
                "oauth2",
                {200: _json(_DEVICE_OUTPUT, "The codes."), **client_errors},
                requestBody=_form({"client_id": {"type": "string"}, "scope": _SCOPE}, ["client_id"]),
            )
        },
        "/o/userinfo/": {
            **{
                method: _operation(
                    f"oidc_userinfo_{method}",
                    "The signed-in user's claims",
                    "OpenID Connect UserInfo: an access token with the `openid` scope, in the Authorization header.",
                    "oidc",
                    {
                        200: _json(_USERINFO_OUTPUT, "The claims."),
                        # The toolkit answers these with an empty body and the RFC 6750 error in
                        # WWW-Authenticate; the API's middleware gives them its JSON body.
                        401: error_response(401, "`unauthorized`: no access token, or an unknown or expired one "
                                            "(RFC 6750's `invalid_token` in the `WWW-Authenticate` challenge)."),
                        403: error_response(403, "`forbidden`: the token has no `openid` scope "
                                            "(`insufficient_scope` in the `WWW-Authenticate` challenge)."),
                                    },
                    security=[{"oauth2": ["openid"]}, {"openIdConnect": ["openid"]}],
                )
                for method in ("get", "post")
            }
        },
        "/o/.well-known/openid-configuration": {
            "get": _operation(
                "oidc_discovery",
                "OpenID Connect discovery",
                "The provider's metadata: endpoints, scopes, RS256 id_tokens, grants, PKCE S256.",
                "oidc",
                {200: _json(_METADATA_OUTPUT, "The metadata.")},
            )
        },
        "/o/.well-known/oauth-authorization-server": {
            "get": _operation(
                "oauth_server_metadata",
                "OAuth2 authorization server metadata",
                "RFC 8414: the same endpoints for OAuth2 clients.",
                "oauth2",
                {200: _json(_METADATA_OUTPUT, "The metadata.")},
            )
        },
        "/o/.well-known/jwks.json": {
            "get": _operation(
                "oidc_jwks",
                "OpenID Connect signing keys",
                "The RS256 public keys id_tokens are signed with (current and previous, each with its `kid`).",
                "oidc",
                {200: _json(_JWKS_OUTPUT, "The key set.")},
            )
        },
    }
    for item in paths.values():
        for operation in item.values():
            operation["responses"] = {str(k): v for k, v in operation["responses"].items()}
    return paths


def postprocess_oauth_paths(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: /o/'s endpoints, which are not DRF views."""
    paths = result.setdefault("paths", {})
    paths.update(oauth_paths())
    schemes = result.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["oauth2"] = oauth2_scheme()
    schemes["openIdConnect"] = openid_connect_scheme()
    return result
