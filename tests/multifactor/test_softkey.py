"""SoftKey against a real fido2 2.x ``Fido2Server``: what it signs passes, what an attacker changes fails.

No database: plain functions over the server's options and state, each JSON
round-tripped the way a browser and a session store would carry them.
"""

from __future__ import annotations

import copy
import json

import pytest
from django.test import modify_settings
from fido2.server import Fido2Server
from fido2.utils import websafe_decode
from fido2.webauthn import (
    AuthenticationResponse,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
    RegistrationResponse,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from tests.multifactor.softkey import SoftKey, SoftKeyError

ORIGIN = "http://localhost:8000"
USER_ID = b"user-42"


def as_json(value):
    """What crosses the wire: a fido2 options object or state, through json and back."""
    return json.loads(json.dumps(dict(value)))


@pytest.fixture
def server() -> Fido2Server:
    return Fido2Server(
        PublicKeyCredentialRpEntity(id="localhost", name="Bouncer"),
        verify_origin=lambda origin: origin == ORIGIN,
    )


def register(server, key, *, user_verification=UserVerificationRequirement.PREFERRED, resident=True, **create_kwargs):
    options, state = server.register_begin(
        PublicKeyCredentialUserEntity(id=USER_ID, name="alice", display_name="Alice"),
        resident_key_requirement=ResidentKeyRequirement.PREFERRED,
        user_verification=user_verification,
        extensions={"credProps": True},
    )
    response = key.create(as_json(options), ORIGIN, resident=resident, **create_kwargs)
    return server.register_complete(as_json(state), json.loads(json.dumps(response))), response


@pytest.fixture
def registered(server):
    """A key with one credential registered at ``server``, and that credential's data as the server stores it."""
    key = SoftKey()
    auth_data, _ = register(server, key)
    return key, auth_data.credential_data


def begin(server, credentials, user_verification=UserVerificationRequirement.PREFERRED):
    options, state = server.authenticate_begin(credentials, user_verification=user_verification)
    return as_json(options), as_json(state)


# -- registration ---------------------------------------------------------------


def test_registration_completes_with_the_keys_public_key(server):
    key = SoftKey()
    auth_data, response = register(server, key)

    stored = key.credential()
    assert auth_data.credential_data.credential_id == stored.credential_id
    assert auth_data.credential_data.public_key == stored.public_key
    assert auth_data.is_user_present() and auth_data.is_user_verified()
    assert auth_data.counter == 0
    assert response["id"] == response["rawId"] and response["type"] == "public-key"
    assert response["clientExtensionResults"] == {"credProps": {"rk": True}}
    assert response["response"]["transports"] == ["internal"]
    assert response["authenticatorAttachment"] == "platform"


def test_registration_from_another_origin_is_refused(server):
    options, state = server.register_begin(PublicKeyCredentialUserEntity(id=USER_ID, name="alice"))
    response = SoftKey().create(as_json(options), "http://evil.localhost:8000")
    with pytest.raises(ValueError, match="Invalid origin"):
        server.register_complete(as_json(state), response)


def test_registration_for_another_rp_id_is_refused(server):
    with pytest.raises(ValueError, match="Wrong RP ID hash"):
        register(server, SoftKey(), rp_id="evil.example")


def test_registration_without_user_verification_is_refused_when_required(server):
    with pytest.raises(ValueError, match="User verification required"):
        register(server, SoftKey(), user_verification=UserVerificationRequirement.REQUIRED, user_verified=False)
    auth_data, _ = register(server, SoftKey(), user_verified=False)  # "preferred" takes it
    assert not auth_data.is_user_verified()


def test_registration_without_user_presence_is_refused(server):
    with pytest.raises(ValueError, match="User Present flag not set"):
        register(server, SoftKey(), user_present=False)


def test_registration_of_a_key_already_registered_is_refused_by_the_key(server, registered):
    key, credential = registered
    options, _ = server.register_begin(PublicKeyCredentialUserEntity(id=USER_ID, name="alice"), credentials=[credential])
    with pytest.raises(SoftKeyError) as refused:
        key.create(as_json(options), ORIGIN)
    assert refused.value.name == "InvalidStateError"


def test_creation_options_serialize_to_json_and_both_shapes_are_accepted(server):
    options, _ = server.register_begin(PublicKeyCredentialUserEntity(id=USER_ID, name="alice"))
    wire = as_json(options)
    assert set(wire) == {"publicKey"}
    assert wire["publicKey"]["user"]["id"] == "dXNlci00Mg"  # base64url, no padding
    assert wire["publicKey"]["rp"] == {"name": "Bouncer", "id": "localhost"}
    assert {"type": "public-key", "alg": -7} in wire["publicKey"]["pubKeyCredParams"]
    key = SoftKey()
    assert key.create(wire["publicKey"], ORIGIN)["type"] == "public-key"
    assert key.create(options, ORIGIN)["type"] == "public-key"  # the fido2 object itself


# -- authentication -------------------------------------------------------------


def test_authentication_completes_and_returns_the_credential(server, registered):
    key, credential = registered
    options, state = begin(server, [credential])
    assert server.authenticate_complete(state, [credential], key.get(options, ORIGIN)) == credential


def test_authentication_without_allowed_credentials_uses_the_discoverable_one(server, registered):
    key, credential = registered
    options, state = begin(server, None, UserVerificationRequirement.REQUIRED)
    assert "allowCredentials" not in options["publicKey"]
    assert server.authenticate_complete(state, [credential], key.get(options, ORIGIN)) == credential


def test_a_credential_that_is_not_discoverable_needs_allowed_credentials(server):
    key = SoftKey()
    auth_data, response = register(server, key, resident=False)
    assert response["clientExtensionResults"] == {"credProps": {"rk": False}}
    options, _ = begin(server, None)
    with pytest.raises(SoftKeyError) as refused:
        key.get(options, ORIGIN)
    assert refused.value.name == "NotAllowedError"
    options, state = begin(server, [auth_data.credential_data])
    assert server.authenticate_complete(state, [auth_data.credential_data], key.get(options, ORIGIN))


def test_authentication_from_another_origin_is_refused(server, registered):
    key, credential = registered
    options, state = begin(server, [credential])
    with pytest.raises(ValueError, match="Invalid origin"):
        server.authenticate_complete(state, [credential], key.get(options, "http://localhost:8001"))


def test_authentication_for_another_rp_id_is_refused(server, registered):
    key, credential = registered
    options, state = begin(server, [credential])
    with pytest.raises(ValueError, match="Wrong RP ID hash"):
        server.authenticate_complete(state, [credential], key.get(options, ORIGIN, rp_id="evil.example"))


def test_authentication_with_a_tampered_signature_is_refused(server, registered):
    key, credential = registered
    options, state = begin(server, [credential])
    with pytest.raises(ValueError, match="Invalid signature"):
        server.authenticate_complete(state, [credential], key.get(options, ORIGIN, tamper=True))


def test_authentication_answering_an_old_challenge_is_refused(server, registered):
    key, credential = registered
    old_options, old_state = begin(server, [credential])
    server.authenticate_complete(old_state, [credential], key.get(old_options, ORIGIN))
    _, state = begin(server, [credential])
    with pytest.raises(ValueError, match="Wrong challenge"):
        server.authenticate_complete(state, [credential], key.get(old_options, ORIGIN))


def test_a_registration_response_is_no_assertion(server, registered):
    _, credential = registered
    _, state = begin(server, [credential])
    other = SoftKey()
    options, _ = server.register_begin(PublicKeyCredentialUserEntity(id=USER_ID, name="alice"))
    with pytest.raises(TypeError, match="signature"):
        server.authenticate_complete(state, [credential], other.create(as_json(options), ORIGIN))


def test_authentication_by_another_key_is_refused(server, registered):
    _, credential = registered
    intruder = SoftKey()
    register(server, intruder)
    options, state = begin(server, None)
    with pytest.raises(ValueError, match="Unknown credential ID"):
        server.authenticate_complete(state, [credential], intruder.get(options, ORIGIN))


def test_authentication_flags_user_presence_and_verification(server, registered):
    key, credential = registered
    options, state = begin(server, [credential])
    with pytest.raises(ValueError, match="User Present flag not set"):
        server.authenticate_complete(state, [credential], key.get(options, ORIGIN, user_present=False))
    options, state = begin(server, [credential], UserVerificationRequirement.REQUIRED)
    with pytest.raises(ValueError, match="user verified flag not set"):
        server.authenticate_complete(state, [credential], key.get(options, ORIGIN, user_verified=False))
    options, state = begin(server, [credential], UserVerificationRequirement.PREFERRED)
    assert server.authenticate_complete(state, [credential], key.get(options, ORIGIN, user_verified=False))


def test_user_handle_decodes_to_the_registered_user_id(server, registered):
    key, credential = registered
    options, _ = begin(server, [credential])
    assert websafe_decode(key.get(options, ORIGIN)["response"]["userHandle"]) == USER_ID
    assert websafe_decode(key.get(options, ORIGIN, user_handle=b"user-7")["response"]["userHandle"]) == b"user-7"
    assert "userHandle" not in key.get(options, ORIGIN, user_handle=None)["response"]


# -- the signature counter --------------------------------------------------------


def signed_counter(server, key, credential) -> int:
    options, state = begin(server, [credential])
    response = key.get(options, ORIGIN)
    server.authenticate_complete(state, [credential], response)
    return AuthenticationResponse.from_dict(response).response.authenticator_data.counter


def test_the_counter_goes_up_by_counter_step_and_can_stay_at_zero(server):
    key = SoftKey(sign_count=10, counter_step=5)
    auth_data, _ = register(server, key)
    assert auth_data.counter == 10
    assert [signed_counter(server, key, auth_data.credential_data) for _ in range(3)] == [15, 20, 25]
    assert key.sign_count == 25

    passkey = SoftKey(counter_step=0)
    auth_data, _ = register(server, passkey)
    assert [signed_counter(server, passkey, auth_data.credential_data) for _ in range(3)] == [0, 0, 0]


def test_a_cloned_key_signs_and_its_counter_goes_its_own_way(server, registered):
    key, credential = registered
    assert signed_counter(server, key, credential) == 1
    clone = copy.deepcopy(key)
    assert [signed_counter(server, key, credential) for _ in range(3)] == [2, 3, 4]
    # fido2's authenticate_complete does not look at the counter: the clone's
    # stale value (2 after the original's 4) is accepted. Detecting a cloned
    # key is the caller's job (store the counter, refuse one that does not grow).
    assert signed_counter(server, clone, credential) == 2
    assert (key.sign_count, clone.sign_count) == (4, 2)


# -- django-allauth's parsers ------------------------------------------------------


@pytest.fixture
def allauth_mfa():
    """allauth.mfa's webauthn module, importable.

    Its models refuse to import unless "allauth.mfa" is installed. Until the
    settings install it, this installs it for the test (no database is
    touched) and takes back the one signal receiver its ready() connects.
    """
    from django.apps import apps

    if apps.is_installed("allauth.mfa"):
        from allauth.mfa.webauthn.internal import auth

        yield auth
        return
    with modify_settings(INSTALLED_APPS={"append": "allauth.mfa"}):
        from allauth.mfa.webauthn.internal import auth

        yield auth
    from allauth.account import signals as account_signals
    from allauth.mfa import signals as mfa_signals

    account_signals._add_email.disconnect(mfa_signals.on_add_email)


def test_allauth_parses_the_registration_response(server, allauth_mfa):
    key = SoftKey()
    auth_data, response = register(server, key)
    parsed = allauth_mfa.parse_registration_response(response)
    assert isinstance(parsed, RegistrationResponse)
    assert parsed.raw_id == key.credential().credential_id
    assert parsed.response.attestation_object.auth_data.credential_data == auth_data.credential_data
    # What allauth reads for "passwordless" (a resident key).
    assert parsed.client_extension_results["credProps"] == {"rk": True}


def test_allauth_parses_the_authentication_response(server, registered, allauth_mfa):
    key, credential = registered
    options, _ = begin(server, [credential])
    parsed = allauth_mfa.parse_authentication_response(key.get(options, ORIGIN))
    assert isinstance(parsed, AuthenticationResponse)
    assert parsed.raw_id == credential.credential_id
    assert parsed.response.user_handle == USER_ID
    assert parsed.response.authenticator_data.counter == 1
