"""Every error under /api/ is JSON, whatever raised it."""

from unittest import mock

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("debug", [True, False])
def test_unknown_api_path_is_404_json(client, debug):
    with override_settings(DEBUG=debug):
        response = client.get("/api/does-not-exist/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_unknown_non_api_path_keeps_html(client):
    response = client.get("/nowhere/")
    assert response.status_code == 404
    assert "json" not in response["Content-Type"]


def test_wrong_method_is_405_json(client):
    response = client.delete("/api/accounts/register/")
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "DELETE" not allowed.'}


def test_unhandled_exception_is_500_json_without_traceback(user):
    from tests.conftest import token_client

    client = token_client(user)
    client.raise_request_exception = False
    from bouncer.users import api

    with mock.patch.object(api.PROFILE_OUTPUT, "to_representation", side_effect=RuntimeError("kaboom-secret")):
        response = client.get("/api/accounts/profile/")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error.", "code": "server_error"}
    assert "kaboom" not in response.content.decode()


def test_disallowed_host_is_400_json(client):
    response = client.get("/api/accounts/profile/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"



@pytest.mark.parametrize(
    "accept, query",
    [
        (None, ""), ("*/*", ""), ("application/json", ""), ("", ""),
        ("application/json; q=0.9, */*; q=0.1", ""), ("application/json; indent=4", ""),
        ("text/html", ""), ("text/html", "?format=json"), ("*/*", "?format=xml"), ("application/xml", ""),
    ],
)
def test_content_negotiation_answers_like_drf(user, accept, query):
    """The fast path (one renderer, an Accept that takes JSON) changes no answer: 406 stays 406."""
    from django.conf import settings

    from tests.conftest import token_client

    client = token_client(user)
    headers = {"HTTP_ACCEPT": accept} if accept is not None else {}
    ours = client.get(f"/api/accounts/profile/{query}", **headers)
    stock = {**settings.REST_FRAMEWORK, "DEFAULT_CONTENT_NEGOTIATION_CLASS": "rest_framework.negotiation.DefaultContentNegotiation"}
    with override_settings(REST_FRAMEWORK=stock):
        drf = client.get(f"/api/accounts/profile/{query}", **headers)
    assert (ours.status_code, ours.get("Content-Type")) == (drf.status_code, drf.get("Content-Type"))
    if accept in (None, "*/*", "application/json") and not query:
        assert ours.status_code == 200
    if accept == "text/html" and not query:
        assert ours.status_code == 406
