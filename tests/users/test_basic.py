import base64

import pytest
from django.test import override_settings

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

URL = "/api/accounts/profile/"


def basic(username, password):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_basic_accepted_when_enabled(api, user):
    assert api.get(URL, HTTP_AUTHORIZATION=basic("alice", PASSWORD)).status_code == 200


def test_basic_wrong_password_is_401(api, user):
    response = api.get(URL, HTTP_AUTHORIZATION=basic("alice", "wrong-password"))
    assert response.status_code == 401
    assert "WWW-Authenticate" in response


@override_settings(BOUNCER_BASIC_AUTH_ENABLED=False)
def test_basic_ignored_when_disabled(api, user):
    response = api.get(URL, HTTP_AUTHORIZATION=basic("alice", PASSWORD))
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}

