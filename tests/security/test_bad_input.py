"""Bad input of every shape gets a 4xx JSON answer and changes nothing."""

import json

import pytest
from django.contrib.sessions.models import Session

from bouncer.articles.models import Article
from bouncer.audit.models import AuditEvent
from bouncer.tokens.opaque.models import DeviceToken
from bouncer.users.models import User
from tests.conftest import PASSWORD, token_client

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    "register": ("/api/accounts/register/", {"username": "newbie", "email": "n@example.com", "password": "testpass123"}),
    "session_login": ("/api/accounts/login/", {"username": "alice", "password": PASSWORD}),
    "token_login": ("/api/auth-token/", {"username": "alice", "password": PASSWORD}),
    "password_change": ("/api/accounts/password/change/", {"old_password": PASSWORD, "new_password": "another-pass-77"}),
    "article_create": ("/api/articles/", {"title": "t", "body": "b"}),
}


def snapshot():
    return (
        list(User.objects.order_by("pk").values_list("pk", "username", "email", "password", "is_staff")),
        DeviceToken.objects.count(),
        Article.objects.count(),
        Session.objects.count(),
        AuditEvent.objects.count(),
    )


def bad_bodies(good):
    first = next(iter(good))
    yield "missing_all", {}
    yield "missing_one", {k: v for k, v in good.items() if k != first}
    yield "null", {**good, first: None}
    yield "number", {**good, first: 12345}
    yield "list", {**good, first: ["a", "b"]}
    yield "object", {**good, first: {"$gt": ""}}
    yield "huge_string", {**good, first: "x" * 200_000}
    yield "nul_byte", {**good, first: "ali\x00ce"}


CASES = [(name, label, body) for name, (url, good) in ENDPOINTS.items() for label, body in bad_bodies(good)]


@pytest.fixture
def client(user):
    # Authenticated by token so the same client reaches every endpoint; the
    # open endpoints ignore credentials.
    return token_client(user)


@pytest.mark.parametrize("endpoint, label, body", CASES, ids=[f"{n}-{l}" for n, l, _ in CASES])
def test_bad_field_values_are_400_json_and_change_nothing(client, endpoint, label, body):
    url = ENDPOINTS[endpoint][0]
    before = snapshot()
    response = client.post(url, body, format="json")
    assert response.status_code == 400, response.content
    assert isinstance(response.json(), dict) and response.json()
    assert snapshot() == before


RAW_BODIES = {
    "malformed_json": (b'{"username": "alice",', "application/json", 400),
    "bad_utf8": (b'{"username": "\xff\xfe"}', "application/json", 400),
    "deeply_nested": (b"[" * 50_000 + b"]" * 50_000, "application/json", 400),
    "nested_40": (json.dumps({"username": json.loads("[" * 40 + "]" * 40)}).encode(), "application/json", 400),
    "json_array": (b"[1, 2, 3]", "application/json", 400),
    "json_string": (b'"alice"', "application/json", 400),
    "too_large": (b'{"username": "' + b"a" * (2 * 1024 * 1024) + b'"}', "application/json", 413),
    "wrong_content_type": (b"username=alice", "text/plain", 415),
    "xml": (b"<user>alice</user>", "application/xml", 415),
}


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@pytest.mark.parametrize("kind", sorted(RAW_BODIES))
def test_malformed_bodies_are_4xx_json_and_change_nothing(client, endpoint, kind):
    url = ENDPOINTS[endpoint][0]
    payload, content_type, status = RAW_BODIES[kind]
    before = snapshot()
    response = client.generic("POST", url, payload, content_type=content_type)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert isinstance(response.json(), dict) and response.json()  # {"detail": ...} or field errors
    assert snapshot() == before


def test_malformed_json_message_does_not_echo_the_body(client):
    response = client.generic("POST", "/api/articles/", b'{"title": "secret-canary",', content_type="application/json")
    assert response.status_code == 400
    assert "secret-canary" not in response.content.decode()


def test_nul_byte_in_query_or_path_is_not_500(client):
    assert client.get("/api/articles/?page=%00").status_code in (400, 404)
    assert client.get("/api/articles/%00/").status_code == 404


JWT_ENDPOINTS = ["/api/token/", "/api/token/refresh/", "/api/token/verify/", "/api/token/blacklist/"]
JWT_BODIES = {
    "empty": {},
    "number": {"refresh": 12345, "token": 12345, "username": 1, "password": 2},
    "list": {"refresh": ["a"], "token": ["a"], "username": ["a"], "password": ["b"]},
    "nul": {"refresh": "a\x00b", "token": "a\x00b", "username": "a\x00", "password": "b"},
    "huge": {"refresh": "x" * 100_000, "token": "x" * 100_000, "username": "x" * 100_000, "password": "p"},
    "not_a_jwt": {"refresh": "not.a.jwt", "token": "not.a.jwt", "username": "alice", "password": "wrong"},
    "unknown_field": {"refresh": "a", "token": "a", "is_staff": True},
}


@pytest.mark.parametrize("url", JWT_ENDPOINTS)
@pytest.mark.parametrize("kind", sorted(JWT_BODIES))
def test_jwt_endpoints_answer_4xx_json_to_bad_bodies_and_change_nothing(api, user, url, kind):
    from bouncer.tokens.jwt.models import JwtFamily, JwtRefreshToken

    before = (snapshot(), JwtFamily.objects.count(), JwtRefreshToken.objects.count())
    response = api.post(url, JWT_BODIES[kind], format="json")
    assert 400 <= response.status_code < 500, response.content
    assert isinstance(response.json(), dict) and response.json()
    after = (snapshot(), JwtFamily.objects.count(), JwtRefreshToken.objects.count())
    if url == "/api/token/" and kind == "not_a_jwt":
        after = (after[0][:4] + (before[0][4],), *after[1:])  # a failed sign-in is audited
    assert after == before


# --- answers that used to be 500 (hole 4.9) -----------------------------------

def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).decode().rstrip("=")


DEEP = b"[" * 2500
NESTED_JOSE = {
    "header": f"{_b64(DEEP)}.{_b64(b'{}')}.c2ln",
    "payload": f"{_b64(json.dumps({'alg': 'ES256', 'typ': 'JWT'}).encode())}.{_b64(DEEP)}.c2ln",
}


@pytest.mark.parametrize("part", sorted(NESTED_JOSE))
def test_deeply_nested_jose_part_as_bearer_is_401_json(api, part):
    response = api.get("/api/accounts/profile/", HTTP_AUTHORIZATION=f"Bearer {NESTED_JOSE[part]}")
    assert response.status_code == 401, response.content
    assert response.json()["detail"]


@pytest.mark.parametrize("part", sorted(NESTED_JOSE))
@pytest.mark.parametrize("url, field", [("/api/token/refresh/", "refresh"), ("/api/token/verify/", "token"), ("/api/token/blacklist/", "refresh")])
def test_deeply_nested_jose_part_in_jwt_endpoints_is_401_json(api, user, part, url, field):
    before = snapshot()
    response = api.post(url, {field: NESTED_JOSE[part]}, format="json")
    assert response.status_code == 401, response.content
    assert response.json()["detail"]
    assert snapshot() == before


#: The anonymous endpoints that take a password or a client secret (and register).
SIGN_IN_PATHS = ["/api/accounts/login/", "/api/auth-token/", "/api/token/", "/o/token/", "/o/introspect/",
                 "/o/revoke_token/", "/accounts/login/", "/admin/login/", "/api/accounts/register/"]
MANY_FIELDS = "&".join(f"f{i}=x" for i in range(5_000))


@pytest.mark.parametrize("url", SIGN_IN_PATHS)
def test_form_with_5000_fields_is_400_and_changes_nothing(user, url):
    from django.test import Client

    before = snapshot()
    response = Client().post(url, MANY_FIELDS, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400, response.content
    if url.startswith(("/api/", "/o/")):
        body = response.json()
        assert body.get("code") == "too_many_fields" or body.get("error") == "invalid_request", body
    assert snapshot() == before


OAUTH_POSTS = ["/o/token/", "/o/introspect/", "/o/revoke_token/"]


@pytest.mark.parametrize("url", OAUTH_POSTS)
def test_oauth_body_over_the_limit_is_413_rfc_json(user, url):
    from django.test import Client

    response = Client().post(url, "token=" + "x" * (2 * 1024 * 1024), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413, response.content
    assert response.json()["error"] == "invalid_request"
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("url", OAUTH_POSTS)
@pytest.mark.parametrize("where", ["body", "basic"])
def test_nul_byte_in_client_id_is_400_rfc_json_and_changes_nothing(user, url, where):
    import base64

    from django.test import Client

    data = {"grant_type": "client_credentials", "token": "t"}
    headers = {}
    if where == "body":
        data.update(client_id="evil\x00id", client_secret="s")
    else:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(b"evil%00id:s").decode()
    before = snapshot()
    response = Client().post(url, data, **headers)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_request"
    assert snapshot() == before


def test_nul_byte_in_client_id_on_authorize_is_400_rfc_json(user):
    from django.test import Client

    browser = Client()
    browser.force_login(user)
    response = browser.get("/o/authorize/", {"client_id": "evil\x00id", "response_type": "code", "redirect_uri": "https://x.example/cb"})
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_request"


def test_http404_raised_outside_drf_is_404_json(user):
    from django.test import Client

    browser = Client()
    browser.force_login(user)
    response = browser.get("/o/applications/999999/")
    assert response.status_code == 404, response.content
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


@pytest.mark.parametrize("url", ["/api/no-such-endpoint/", "/o/no-such-endpoint/", "/api/accounts/nope/"])
def test_post_to_unknown_path_is_404_json_not_csrf_403(url):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(url, {"a": "b"})
    assert response.status_code == 404, response.content
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
