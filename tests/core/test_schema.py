"""The OpenAPI description at /api/schema/ describes SPEC.md's whole HTTP contract, errors and schemes included."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import Resolver404, resolve
from drf_spectacular.generators import SchemaGenerator

from bouncer.core import handlers

#: The "request" column of SPEC.md's HTTP contract table, row by row (SPEC.md is
#: not part of the repository; test_spec_table_copy_is_current compares when it is at hand).
SPEC_REQUESTS = [
    "POST /api/accounts/register/",
    "GET /api/accounts/profile/",
    "PATCH /api/accounts/profile/",
    "POST /api/accounts/password/change/",
    "POST /api/accounts/login/",
    "POST /api/accounts/logout/",
    "GET /api/accounts/users/",
    "POST /api/auth-token/",
    "POST /api/auth-token/logout/",
    "POST /api/token/",
    "POST /api/token/refresh/",
    "POST /api/token/verify/",
    "POST /api/token/blacklist/",
    "GET /.well-known/jwks.json",
    "/o/authorize/",
    "/o/token/",
    "/o/revoke_token/",
    "/o/introspect/",
    "/o/userinfo/",
    "/o/.well-known/openid-configuration",
    "/o/.well-known/jwks.json",
    "/o/applications/",
    "/accounts/<provider>/login/",
    "POST /api/auth/<provider>/",
    "GET /api/auth/social/",
    "/api/auth/password/reset/",
    "/api/auth/password/reset/confirm/",
    "/api/auth/registration/verify-email/",
    "/api/auth/registration/resend-email/",
    "POST /api/auth/mfa/authenticate/",
    "/api/auth/mfa/",
    "GET /api/accounts/sessions/",
    "DELETE /api/accounts/sessions/<id>/",
    "POST /api/accounts/sessions/revoke-others/",
    "GET /api/accounts/events/",
    "/api/articles/",
    "/api/schema/",
    "/api/docs/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/admin/",
]

#: Paths of the table that are not API operations, and why they stay out of the description.
NOT_DESCRIBED = {
    "/o/applications/": "HTML pages for managing one's OAuth2 applications",
    "/accounts/<provider>/login/": "the browser's social sign-in (redirects, HTML)",
    "/api/auth/mfa/": "a prefix: the factor management endpoints under it are checked by SPEC_MFA",
    "/api/schema/": "the description itself",
    "/api/docs/": "Swagger UI, an HTML page",
    "/metrics": "Prometheus text for scrapers, closed to API clients",
    "/admin/": "the admin's HTML pages",
}

SPEC_MFA = ["/api/auth/mfa/factors/", "/api/auth/mfa/totp/", "/api/auth/mfa/step-up/", "/api/auth/mfa/recovery-codes/"]

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
SHARED = {"#/components/schemas/Error", "#/components/schemas/OAuthError"}
#: Operations of the OAuth2 protocol, whose own errors are RFC 6749's.
OAUTH_PROTOCOL = ("/o/token/", "/o/revoke_token/", "/o/introspect/", "/o/device-authorization/", "/o/authorize/")


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return _schema()


def _spec_paths():
    for entry in SPEC_REQUESTS:
        method, _, path = entry.rpartition(" ")
        yield (method.lower() or None), path


def _template(path: str) -> str:
    """SPEC.md's ``<name>`` parameters as a pattern matching any OpenAPI ``{name}``."""
    return "^" + re.sub(r"<[a-z_]+>", lambda _: r"\{[a-z_]+\}", re.escape(path)) + "$"


def _operations(schema):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def _refs(node) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if "$ref" in node else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()


@pytest.mark.parametrize("method,path", list(_spec_paths()), ids=SPEC_REQUESTS)
def test_every_spec_path_is_described(schema, method, path):
    matches = [p for p in schema["paths"] if re.match(_template(path), p)]
    if path in NOT_DESCRIBED:  # pages, /metrics, the admin: deliberately not API operations
        assert not matches, f"{path} is not an API operation but is in the schema"
        return
    assert matches, f"{path} is not in the schema"
    if method:
        assert any(method in schema["paths"][p] for p in matches), f"{method.upper()} {path} is not in the schema"


def test_mfa_management_paths_are_described(schema):
    for path in SPEC_MFA:
        assert path in schema["paths"], path


def test_html_metrics_and_admin_stay_out(schema):
    for path in schema["paths"]:
        assert not path.startswith(("/admin/", "/metrics", "/accounts/", "/o/applications/", "/o/device/", "/api/docs/")), path
        assert path != "/"


def test_every_described_path_is_served(schema):
    for path in schema["paths"]:
        concrete = re.sub(r"\{[a-z_]+\}", "1", path)
        try:
            match = resolve(concrete)
        except Resolver404:
            match = None
        assert match is not None and match.func is not handlers.unknown_path, f"{path} is described but not served"


def test_every_operation_has_summary_tag_security_and_its_errors(schema):
    tags = {t["name"] for t in schema["tags"]}
    for path, method, op in _operations(schema):
        where = f"{method.upper()} {path}"
        assert op.get("summary"), where
        assert op.get("tags") and set(op["tags"]) <= tags, where
        assert op.get("security"), f"{where} has no security requirement (anonymous is [{{}}])"
        errors = {code for code in op["responses"] if code[0] in "45"}
        if "requestBody" in op:
            assert {"400", "413"} <= errors, where
            if "application/json" in op["requestBody"]["content"]:
                assert "415" in errors, where
        if any(req for req in op["security"]):
            assert "401" in errors, where
        if "{" in path:
            assert "404" in errors, where


def test_every_error_answer_refers_to_a_shared_component(schema):
    for path, method, op in _operations(schema):
        for code, response in op["responses"].items():
            if code[0] not in "45":
                continue
            where = f"{method.upper()} {path} {code}"
            assert response.get("description"), where
            content = response.get("content", {})
            assert "application/json" in content, where
            refs = _refs(content["application/json"]["schema"])
            assert refs & SHARED, f"{where} refers to neither Error nor OAuthError: {refs}"
            if path.startswith(OAUTH_PROTOCOL) and code in ("400", "401"):
                assert "#/components/schemas/OAuthError" in refs, where


def test_error_components_have_the_shapes_the_code_answers(schema):
    components = schema["components"]["schemas"]
    assert set(components["Error"]["properties"]) == {"detail", "code"}
    assert components["Error"]["required"] == ["detail"]  # SPEC.md's missing-credentials body has no code
    assert set(components["OAuthError"]["properties"]) == {"error", "error_description"}
    assert components["OAuthError"]["required"] == ["error"]


def test_the_token_endpoint_takes_every_grant_as_a_form(schema):
    body = schema["paths"]["/o/token/"]["post"]["requestBody"]["content"]
    assert list(body) == ["application/x-www-form-urlencoded"]
    grants = {variant["properties"]["grant_type"]["enum"][0] for variant in body["application/x-www-form-urlencoded"]["schema"]["oneOf"]}
    assert grants == {"authorization_code", "refresh_token", "client_credentials", "password", "urn:ietf:params:oauth:grant-type:device_code"}


def test_json_endpoints_accept_json_and_forms(schema):
    body = schema["paths"]["/api/accounts/register/"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/x-www-form-urlencoded"} <= set(body)


def test_security_schemes(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["sessionAuth"] == {**schemes["sessionAuth"], "type": "apiKey", "in": "cookie", "name": "sessionid"}
    assert "X-CSRFToken" in schemes["sessionAuth"]["description"]
    assert schemes["tokenAuth"] == {**schemes["tokenAuth"], "type": "apiKey", "in": "header", "name": "Authorization"}
    assert schemes["jwtAuth"] == {**schemes["jwtAuth"], "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    flows = schemes["oauth2"]["flows"]
    assert set(flows) == {"authorizationCode", "password", "clientCredentials"}
    assert flows["authorizationCode"]["authorizationUrl"].endswith("/o/authorize/")
    assert all(flow["tokenUrl"].endswith("/o/token/") for flow in flows.values())
    assert set(flows["password"]["scopes"]) == {"read", "write", "openid", "profile", "email"}
    assert schemes["openIdConnect"]["type"] == "openIdConnect"
    assert schemes["openIdConnect"]["openIdConnectUrl"].endswith("/o/.well-known/openid-configuration")


def test_operations_name_the_oauth2_scope_their_method_needs(schema):
    articles = schema["paths"]["/api/articles/"]
    assert {"oauth2": ["read"]} in articles["get"]["security"]
    assert {"oauth2": ["write"]} in articles["post"]["security"]
    assert {"openIdConnect": ["write"]} in articles["post"]["security"]


@pytest.mark.django_db
def test_basic_is_described_only_when_it_is_on():
    with override_settings(BOUNCER_BASIC_AUTH_ENABLED=True):
        on = _schema()
    with override_settings(BOUNCER_BASIC_AUTH_ENABLED=False):
        off = _schema()
    assert on["components"]["securitySchemes"]["basicAuth"] == {
        **on["components"]["securitySchemes"]["basicAuth"], "type": "http", "scheme": "basic",
    }
    assert {"basicAuth": []} in on["paths"]["/api/accounts/profile/"]["get"]["security"]
    assert "basicAuth" not in off["components"]["securitySchemes"]
    assert "basicAuth" not in json.dumps(off)
    assert "basic" not in {s.get("scheme") for s in off["components"]["securitySchemes"].values()}


@pytest.mark.django_db
def test_password_flow_follows_the_enabled_grants(settings):
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token"],
    }
    schema = _schema()
    assert set(schema["components"]["securitySchemes"]["oauth2"]["flows"]) == {"authorizationCode"}
    grants = schema["paths"]["/o/token/"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["oneOf"]
    assert {g["properties"]["grant_type"]["enum"][0] for g in grants} == {"authorization_code", "refresh_token"}


@pytest.mark.django_db
def test_schema_endpoint_serves_it(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    served = json.loads(response.content)
    assert "/o/token/" in served["paths"] and "Error" in served["components"]["schemas"]


@pytest.mark.django_db
def test_spectacular_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/o/token/" in out.read_text()


SPEC_FILE = Path("/work/shared/SPEC.md")


@pytest.mark.skipif(not SPEC_FILE.exists(), reason="SPEC.md lives outside the repository")
def test_spec_table_copy_is_current():
    text = SPEC_FILE.read_text()
    table = text.split("## The HTTP contract", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|") for line in table.splitlines() if line.startswith("| ") and not line.startswith("| capability")]
    found = []
    for row in rows:
        found += re.findall(r"`((?:[A-Z]+ )?/[^`\s]*)`", row[2])
    assert [f for f in found if f in SPEC_REQUESTS] == found, sorted(set(found) - set(SPEC_REQUESTS))


@pytest.mark.django_db
def test_oauth_urls_are_absolute_with_an_issuer_and_never_from_the_host_header(settings, client):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": "https://auth.example.com/o"}
    settings.ALLOWED_HOSTS = ["testserver", "evil.example.net"]
    served = json.loads(client.get("/api/schema/?format=json", HTTP_HOST="evil.example.net").content)
    schemes = served["components"]["securitySchemes"]
    assert schemes["oauth2"]["flows"]["password"]["tokenUrl"] == "https://auth.example.com/o/token/"
    assert schemes["oauth2"]["flows"]["authorizationCode"]["authorizationUrl"] == "https://auth.example.com/o/authorize/"
    assert schemes["openIdConnect"]["openIdConnectUrl"] == "https://auth.example.com/o/.well-known/openid-configuration"
    assert "evil.example.net" not in json.dumps(served)
