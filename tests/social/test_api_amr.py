"""A social provider's sign-in is ``fed`` in the credentials it completes into (POST /api/auth/<provider>/)."""

from __future__ import annotations

import jwt
import pytest

from bouncer.tokens.jwt.models import JwtFamily
from bouncer.tokens.opaque.models import DeviceToken
from tests.social.conftest import code_body, social_post
from tests.social.recorded import google_claims, id_token

pytestmark = pytest.mark.django_db


def test_a_jwt_from_a_social_sign_in_says_fed(api, recorded):
    recorded.play("google", "token", body={**recorded.body("google", "token"), "id_token": id_token(google_claims(nonce=None))})
    response = social_post(api, "google", code_body())
    assert response.status_code == 200, response.content
    claims = jwt.decode(response.json()["access"], options={"verify_signature": False})
    assert claims["amr"] == ["fed"] and claims["acr"] == "aal1"
    assert JwtFamily.objects.get().amr == "fed"


def test_a_drf_token_from_a_social_sign_in_says_fed(api, recorded):
    recorded.google_certs()
    body = {"id_token": id_token(google_claims()), "nonce": "n-0S6_WzA2Mj", "credential": "token", "device_name": "Pixel 9"}
    response = social_post(api, "google", body)
    assert response.status_code == 200, response.content
    assert DeviceToken.objects.get().amr == "fed"
