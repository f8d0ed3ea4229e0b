"""A rotated id_token key ring is used from the next /o/ request, without a restart
(bouncer/oauth/keyring.py); the two-node end-to-end test is tests/e2e/test_two_nodes.py."""

import jwt
import pytest
from django.core.management import call_command
from django.test import Client
from oauth2_provider.settings import oauth2_settings

from bouncer.core.keyfiles import key_ring_file_identity, key_ring_file_write
from bouncer.oauth.keys import oidc_ring_entry_new
from tests.oauth.test_oidc import oidc_tokens, verify_id_token

pytestmark = pytest.mark.django_db


def jwks_kids() -> list[str]:
    response = Client().get("/o/.well-known/jwks.json")
    assert response.status_code == 200
    return [key["kid"] for key in response.json()["keys"]]


@pytest.fixture
def ring(settings, tmp_path):
    """A ring file of its own, loaded as the settings load it (the file's identity recorded)."""
    path = tmp_path / "oidc_keys.json"
    first = oidc_ring_entry_new()
    key_ring_file_write(path, [first])
    settings.BOUNCER_OAUTH = {**settings.BOUNCER_OAUTH, "OIDC_KEYS_FILE": str(path), "OIDC_SINGLE_KEY": False,
                              "OIDC_KEYS_LOADED": key_ring_file_identity(path)}
    # Through the fixture, so its teardown tells the toolkit to reload (setting_changed).
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_RSA_PRIVATE_KEY": first["pem"],
                                "OIDC_RSA_PRIVATE_KEYS_INACTIVE": []}
    return path, first


def test_a_rotation_signs_with_the_new_key_at_the_next_request_and_the_old_id_token_verifies(ring, user, code_app):
    path, first = ring
    assert jwks_kids() == [first["kid"]]
    before = oidc_tokens(user, code_app, "openid")["id_token"]

    call_command("oidc_rotate_keys")

    kids = jwks_kids()
    assert len(kids) == 2 and kids[1] == first["kid"] and kids[0] != first["kid"]
    after = oidc_tokens(user, code_app, "openid")["id_token"]
    assert verify_id_token(after, code_app.client_id)["sub"] == str(user.pk)
    assert jwt.get_unverified_header(after)["kid"] == kids[0]
    assert verify_id_token(before, code_app.client_id)["sub"] == str(user.pk)  # previous key still published


def test_a_ring_file_that_does_not_parse_keeps_the_keys_in_use(ring, caplog):
    path, first = ring
    path.write_text('[{"kid": "x", "pem": "not a key"}]')
    assert jwks_kids() == [first["kid"]]  # served, not a 500
    assert "not loaded" in caplog.text
    path.write_text("{broken json")
    assert jwks_kids() == [first["kid"]]


def test_an_emptied_or_removed_ring_keeps_the_keys_in_use(ring):
    path, first = ring
    key_ring_file_write(path, [])
    assert jwks_kids() == [first["kid"]]
    path.unlink()
    assert jwks_kids() == [first["kid"]]


def test_a_single_key_from_the_environment_is_never_replaced_by_a_file(ring, settings):
    path, first = ring
    settings.BOUNCER_OAUTH = {**settings.BOUNCER_OAUTH, "OIDC_SINGLE_KEY": True}
    key_ring_file_write(path, [oidc_ring_entry_new(), first])
    assert jwks_kids() == [first["kid"]]


def test_requests_outside_o_do_not_reload(ring):
    path, first = ring
    key_ring_file_write(path, [oidc_ring_entry_new(), first])
    assert Client().get("/healthz").status_code == 200
    assert oauth2_settings.OIDC_RSA_PRIVATE_KEY == first["pem"]
    assert jwks_kids()[1] == first["kid"]  # the next /o/ request loads it
