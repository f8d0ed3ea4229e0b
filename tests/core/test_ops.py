from unittest import mock

import pytest
import yaml

import bouncer


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": bouncer.__version__}


@pytest.mark.django_db
def test_readyz_ok_when_database_and_cache_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


@pytest.mark.django_db
def test_readyz_503_when_cache_unreachable(client):
    with mock.patch("bouncer.core.views.cache.set", side_effect=ConnectionError("down")):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "fail"}


@pytest.mark.django_db
def test_readyz_503_when_database_unreachable(client):
    with mock.patch("bouncer.core.views.connection.cursor", side_effect=Exception("db down")):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "fail"


@pytest.mark.django_db
def test_openapi_schema_describes_every_endpoint_and_auth_scheme(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    paths = set(schema["paths"])
    for path in [
        "/api/accounts/register/", "/api/accounts/profile/", "/api/accounts/password/change/",
        "/api/accounts/login/", "/api/accounts/logout/", "/api/accounts/users/",
        "/api/auth-token/", "/api/auth-token/logout/", "/api/articles/", "/api/articles/{id}/",
        "/api/token/", "/api/token/refresh/", "/api/token/verify/", "/api/token/blacklist/",
    ]:
        assert path in paths
    assert set(schema["components"]["securitySchemes"]) == {"jwtAuth", "oauth2", "openIdConnect", "tokenAuth", "sessionAuth", "basicAuth"}  # Basic: on in the test profile
    assert schema["paths"]["/api/accounts/login/"]["post"]["security"] == [{}]  # open endpoint: no credential needed
    assert {"tokenAuth": []} in schema["paths"]["/api/accounts/profile/"]["get"]["security"]


@pytest.mark.django_db
def test_swagger_ui_is_served_without_a_cdn(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "cdn.jsdelivr" not in page and "unpkg.com" not in page


@pytest.mark.django_db
def test_admin_has_every_model(admin_client):
    for url in [
        "/admin/users/user/", "/admin/tokens/devicetoken/", "/admin/audit/auditevent/",
        "/admin/articles/article/", "/admin/users/usersession/", "/admin/tokens/jwtfamily/",
    ]:
        assert admin_client.get(url).status_code == 200, url
