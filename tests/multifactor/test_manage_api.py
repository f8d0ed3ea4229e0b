"""The factor management API: enrol, list, rename and remove each kind, through HTTP with each credential."""

from __future__ import annotations

import copy
import json
import time

import pyotp
import pytest
import time_machine
from allauth.mfa.models import Authenticator
from fido2.utils import websafe_encode
from fido2.webauthn import CollectedClientData
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.multifactor.models import MfaChallenge
from bouncer.tokens.jwt.models import JwtFamily
from bouncer.tokens.opaque.models import DeviceToken
from tests.concurrency import at_once
from tests.conftest import basic_client, make_user, oauth2_client
from tests.multifactor.clients import (
    MFA,
    ORIGIN,
    WAYS,
    enrol_key,
    enrol_totp,
    factors,
    first_step,
    sign_in,
    step_up,
    step_up_with_key,
)
from tests.multifactor.softkey import SoftKey, SoftKeyError

pytestmark = pytest.mark.django_db

START = "2026-06-01 12:00:00"


@pytest.fixture
def alice(db):
    return make_user("alice")


@pytest.fixture
def bob(db):
    return make_user("bob")


@pytest.fixture
def clock():
    """Time stands still until a test moves it (TOTP windows are 30 seconds)."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture(params=WAYS)
def way(request) -> str:
    return request.param


def audit_count(action, user) -> int:
    return AuditEvent.objects.filter(action=action, user=user).count()


# --- TOTP ------------------------------------------------------------------------


def test_totp_enrolment_end_to_end_then_sign_in_asks_for_it(alice, way, clock):
    client = sign_in(way, alice)
    begun = client.post(f"{MFA}totp/", {}, format="json")
    assert begun.status_code == 200, begun.content
    shown = begun.json()
    assert set(shown) == {"setup_id", "secret", "otpauth_url", "qr_svg"}
    parsed = pyotp.parse_uri(shown["otpauth_url"])  # what an authenticator app reads from the QR code
    assert shown["otpauth_url"].startswith("otpauth://totp/") and parsed.secret == shown["secret"]
    assert parsed.issuer == "Bouncer" and parsed.name == "alice@example.com" and parsed.digits == 6 and parsed.interval == 30
    assert "<svg" in shown["qr_svg"]
    assert factors(client) == []  # shown, not a factor until confirmed

    app = pyotp.TOTP(shown["secret"])
    done = client.post(f"{MFA}totp/confirm/", {"setup_id": shown["setup_id"], "code": app.now()}, format="json")
    assert done.status_code == 201, done.content
    body = done.json()
    assert body["type"] == "totp" and body["name"] is None and body["passkey"] is False
    assert len(body["recovery_codes"]) == 10 and len(set(body["recovery_codes"])) == 10
    listed = factors(client)
    assert [(f["type"], f["recovery_codes_left"]) for f in listed] == [("totp", None), ("recovery_codes", 10)]
    assert shown["secret"] not in json.dumps(listed)
    assert audit_count(AuditAction.MFA_ENROLLED, alice) == 1
    assert audit_count(AuditAction.RECOVERY_CODES_GENERATED, alice) == 1

    _, again = first_step(way, alice)
    assert again.status_code == 401 and again.json()["methods"] == ["totp", "recovery_code"]
    clock.shift(30)  # the confirming code is spent for its window
    assert sign_in(way, alice, code=app.now()).get("/api/accounts/profile/").status_code == 200


@pytest.mark.parametrize("windows, accepted", [(-1, True), (1, True), (-2, False), (2, False)])
def test_totp_confirm_takes_a_code_one_window_off_but_not_two(alice, clock, windows, accepted):
    client = sign_in("token", alice)
    shown = client.post(f"{MFA}totp/", {}, format="json").json()
    code = pyotp.TOTP(shown["secret"]).at(time.time() + windows * 30)  # time.time() is the travelled clock
    done = client.post(f"{MFA}totp/confirm/", {"setup_id": shown["setup_id"], "code": code}, format="json")
    if accepted:
        assert done.status_code == 201, done.content
    else:
        assert done.status_code == 400 and done.json()["code"] == "mfa_code_invalid"
        assert not Authenticator.objects.filter(user=alice).exists()


def test_a_wrong_first_code_changes_nothing_and_the_setup_can_still_be_confirmed(alice, clock):
    client = sign_in("jwt", alice)
    shown = client.post(f"{MFA}totp/", {}, format="json").json()
    app = pyotp.TOTP(shown["secret"])
    wrong = "000000" if app.now() != "000000" else "111111"
    refused = client.post(f"{MFA}totp/confirm/", {"setup_id": shown["setup_id"], "code": wrong}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "mfa_code_invalid"
    assert factors(client) == [] and audit_count(AuditAction.MFA_ENROLLED, alice) == 0
    assert client.post(f"{MFA}totp/confirm/", {"setup_id": shown["setup_id"], "code": app.now()}, format="json").status_code == 201


def test_a_setup_is_confirmed_once_and_expires(alice, clock):
    client = sign_in("token", alice)
    shown = client.post(f"{MFA}totp/", {}, format="json").json()
    app = pyotp.TOTP(shown["secret"])
    clock.shift(301)  # BOUNCER_MFA_TOKEN_SECONDS
    late = client.post(f"{MFA}totp/confirm/", {"setup_id": shown["setup_id"], "code": app.now()}, format="json")
    assert late.status_code == 400 and late.json()["code"] == "setup_expired"
    shown = client.post(f"{MFA}totp/", {}, format="json").json()
    app = pyotp.TOTP(shown["secret"])
    assert client.post(f"{MFA}totp/confirm/", {"setup_id": shown["setup_id"], "code": app.now()}, format="json").status_code == 201
    clock.shift(30)
    again = client.post(f"{MFA}totp/confirm/", {"setup_id": shown["setup_id"], "code": app.now()}, format="json")
    assert again.status_code == 400 and again.json()["code"] == "setup_expired"
    assert Authenticator.objects.filter(user=alice, type="totp").count() == 1


def test_a_second_authenticator_app_is_409_while_one_is_set_up(alice, clock):
    client = sign_in("token", alice)
    enrol_totp(client)
    again = client.post(f"{MFA}totp/", {}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "factor_exists"


def test_another_users_setup_id_is_refused(alice, bob, clock):
    bobs = sign_in("token", bob).post(f"{MFA}totp/", {}, format="json").json()
    client = sign_in("token", alice)
    code = pyotp.TOTP(bobs["secret"]).now()
    refused = client.post(f"{MFA}totp/confirm/", {"setup_id": bobs["setup_id"], "code": code}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "setup_expired"
    assert not Authenticator.objects.exists()


# --- recovery codes ----------------------------------------------------------------


def test_recovery_codes_are_shown_once_never_listed_and_each_works_once(alice, clock):
    client = sign_in("session", alice)
    _, enrolled = enrol_totp(client)
    codes = enrolled["recovery_codes"]
    listed = client.get(f"{MFA}factors/").content.decode()
    assert not any(code in listed for code in codes)
    assert not any(code in str(Authenticator.objects.get(type="recovery_codes").data) for code in codes)  # stored hashed

    used = sign_in("jwt", alice, code=codes[0])
    assert used.get("/api/accounts/profile/").status_code == 200
    assert [f["recovery_codes_left"] for f in factors(used) if f["type"] == "recovery_codes"] == [9]
    _, again = first_step("jwt", alice)
    refused = APIClient().post(f"{MFA}authenticate/", {"mfa_token": again.json()["mfa_token"], "code": codes[0]}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "mfa_code_invalid"
    assert audit_count(AuditAction.RECOVERY_CODE_USED, alice) == 1


def test_a_security_key_after_an_app_brings_no_new_recovery_codes(alice, clock):
    client = sign_in("token", alice)
    enrol_totp(client)
    assert enrol_key(client, SoftKey())["recovery_codes"] is None
    assert audit_count(AuditAction.RECOVERY_CODES_GENERATED, alice) == 1


# --- WebAuthn ----------------------------------------------------------------------


def test_several_named_security_keys_and_a_passkey_register_and_answer_the_second_step(alice, way, clock):
    client = sign_in(way, alice)
    yubikey, phone = SoftKey(attachment="cross-platform"), SoftKey()
    first = enrol_key(client, yubikey, name="Yubikey 5")
    second = enrol_key(client, phone, name="  Phone  ", passwordless=True)
    assert len(first["recovery_codes"]) == 10 and second["recovery_codes"] is None
    keys = [(f["name"], f["passkey"]) for f in factors(client) if f["type"] == "webauthn"]
    assert keys == [("Yubikey 5", False), ("Phone", True)]
    assert audit_count(AuditAction.MFA_ENROLLED, alice) == 2

    _, stopped = first_step("jwt", alice)
    token = stopped.json()["mfa_token"]
    options = APIClient().post(f"{MFA}webauthn/begin/", {"mfa_token": token}, format="json").json()
    done = APIClient().post(f"{MFA}authenticate/", {"mfa_token": token, "credential": phone.get(options, ORIGIN)}, format="json")
    assert done.status_code == 200, done.content


def register(client, key=None, *, credential=None, name="Key"):
    """(begin answer, the credential sent, the register answer)."""
    begun = client.post(f"{MFA}webauthn/register/begin/", {}, format="json").json()
    credential = credential(begun["options"]) if credential is not None else key.create(begun["options"], ORIGIN)
    body = {"registration_id": begun["registration_id"], "credential": credential, "name": name}
    return begun, credential, client.post(f"{MFA}webauthn/register/", body, format="json")


def test_the_same_key_twice_is_refused(alice, clock):
    client = sign_in("token", alice)
    key = SoftKey()
    _, first, done = register(client, key)
    assert done.status_code == 201
    begun = client.post(f"{MFA}webauthn/register/begin/", {}, format="json").json()
    with pytest.raises(SoftKeyError):  # a browser refuses: the options exclude the key's credential
        key.create(begun["options"], ORIGIN)

    def same_credential_again(options):
        # A hostile client answers the new challenge with the credential already
        # registered: attestation "none" signs nothing, so only the server's check stops it.
        again = copy.deepcopy(first)
        client_data = CollectedClientData.create(type=CollectedClientData.TYPE.CREATE, challenge=options["publicKey"]["challenge"], origin=ORIGIN)
        again["response"]["clientDataJSON"] = websafe_encode(client_data)
        return again

    _, _, again = register(client, credential=same_credential_again, name="again")
    assert again.status_code == 400 and again.json()["code"] == "webauthn_invalid"
    assert [f["name"] for f in factors(client) if f["type"] == "webauthn"] == ["Key"]
    assert audit_count(AuditAction.MFA_ENROLLED, alice) == 1


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost.evil.example:8000"])
def test_a_key_made_for_another_origin_is_refused(alice, clock, origin):
    client = sign_in("token", alice)
    begun = client.post(f"{MFA}webauthn/register/begin/", {}, format="json").json()
    body = {"registration_id": begun["registration_id"], "credential": SoftKey().create(begun["options"], origin)}
    refused = client.post(f"{MFA}webauthn/register/", body, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "webauthn_invalid"
    assert not Authenticator.objects.filter(user=alice).exists()
    assert audit_count(AuditAction.MFA_ENROLLED, alice) == 0


def test_a_key_for_another_rp_id_is_refused(alice, clock):
    client = sign_in("token", alice)
    begun = client.post(f"{MFA}webauthn/register/begin/", {}, format="json").json()
    credential = SoftKey().create(begun["options"], ORIGIN, rp_id="evil.example")
    refused = client.post(f"{MFA}webauthn/register/", {"registration_id": begun["registration_id"], "credential": credential}, format="json")
    assert refused.status_code == 400 and not Authenticator.objects.exists()


# --- rename ------------------------------------------------------------------------


def test_a_key_is_renamed_an_app_has_no_name(alice, clock):
    client = sign_in("jwt", alice)
    key_id = enrol_key(client, SoftKey(), name="Old")["id"]
    _, app_factor = enrol_totp(client)
    renamed = client.patch(f"{MFA}factors/{key_id}/", {"name": "Desk key"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Desk key"
    assert [f["name"] for f in factors(client) if f["type"] == "webauthn"] == ["Desk key"]
    refused = client.patch(f"{MFA}factors/{app_factor['id']}/", {"name": "x"}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "factor_not_renamable"
    for blank in ("", "   "):
        assert client.patch(f"{MFA}factors/{key_id}/", {"name": blank}, format="json").status_code == 400


@pytest.mark.parametrize("smuggled", [{"user": 2}, {"user_id": 2}, {"type": "totp"}, {"data": {}}, {"id": 99}])
def test_privilege_fields_on_rename_are_400_and_change_nothing(alice, bob, clock, smuggled):
    client = sign_in("token", alice)
    key_id = enrol_key(client, SoftKey(), name="Mine")["id"]
    refused = client.patch(f"{MFA}factors/{key_id}/", {"name": "Other", **smuggled}, format="json")
    assert refused.status_code == 400
    assert list(refused.json()) == [next(iter(smuggled))]
    factor = Authenticator.objects.get(pk=key_id)
    assert factor.user_id == alice.pk and factor.type == "webauthn" and factor.data["name"] == "Mine"


@pytest.mark.parametrize("smuggled", [{"user": 2}, {"user_id": 2}, {"type": "webauthn"}])
def test_privilege_fields_on_enrolment_are_400(alice, bob, clock, smuggled):
    client = sign_in("token", alice)
    assert client.post(f"{MFA}totp/", smuggled, format="json").status_code == 400
    shown = client.post(f"{MFA}totp/", {}, format="json").json()
    body = {"setup_id": shown["setup_id"], "code": pyotp.TOTP(shown["secret"]).now(), **smuggled}
    assert client.post(f"{MFA}totp/confirm/", body, format="json").status_code == 400
    assert not Authenticator.objects.exists()


def test_another_users_factor_is_404_and_unchanged(alice, bob, clock):
    bobs_client = sign_in("token", bob)
    bobs_key = enrol_key(bobs_client, SoftKey(), name="Bob's")["id"]
    client = sign_in("token", alice)
    app, _ = enrol_totp(client)
    clock.shift(30)
    assert step_up(client, app.now()).status_code == 200
    for response in (
        client.patch(f"{MFA}factors/{bobs_key}/", {"name": "mine now"}, format="json"),
        client.delete(f"{MFA}factors/{bobs_key}/"),
    ):
        assert response.status_code == 404 and response.json() == {"detail": "Not found.", "code": "not_found"}
    factor = Authenticator.objects.get(pk=bobs_key)
    assert factor.user_id == bob.pk and factor.data["name"] == "Bob's"
    for unknown in ("999999", "abc", "٣", "9" * 30, "-1"):
        assert client.delete(f"{MFA}factors/{unknown}/").status_code == 404
    assert audit_count(AuditAction.MFA_REMOVED, bob) == 0


# --- who may call --------------------------------------------------------------------

MANAGEMENT_CALLS = [
    ("get", "factors/", None),
    ("patch", "factors/1/", {"name": "x"}),
    ("delete", "factors/1/", None),
    ("post", "totp/", {}),
    ("post", "totp/confirm/", {"setup_id": "x", "code": "123456"}),
    ("post", "webauthn/register/begin/", {}),
    ("post", "webauthn/register/", {"registration_id": "x", "credential": {}}),
    ("post", "recovery-codes/", None),
    ("post", "step-up/", {"code": "123456"}),
    ("post", "step-up/webauthn/begin/", None),
]


@pytest.mark.parametrize("method, path, body", MANAGEMENT_CALLS, ids=[f"{m}-{p}" for m, p, _ in MANAGEMENT_CALLS])
def test_without_a_credential_every_management_call_is_401(api, method, path, body):
    response = getattr(api, method)(f"{MFA}{path}", body, format="json")
    assert response.status_code == 401 and "WWW-Authenticate" in response


@pytest.mark.parametrize("kind", ["oauth2", "basic"])
@pytest.mark.parametrize("method, path, body", MANAGEMENT_CALLS, ids=[f"{m}-{p}" for m, p, _ in MANAGEMENT_CALLS])
def test_oauth2_tokens_and_basic_cannot_manage_factors(alice, kind, method, path, body):
    client = oauth2_client(alice) if kind == "oauth2" else basic_client(alice)
    response = getattr(client, method)(f"{MFA}{path}", body, format="json")
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "credential_not_allowed"
    assert not Authenticator.objects.exists() and not MfaChallenge.objects.exists()


def test_an_oauth2_token_of_a_user_with_a_factor_cannot_remove_it(alice, clock):
    partner = oauth2_client(alice)  # issued before the factor existed
    client = sign_in("token", alice)
    app, enrolled = enrol_totp(client)
    clock.shift(30)
    assert partner.post(f"{MFA}step-up/", {"code": app.now()}, format="json").status_code == 403
    assert partner.delete(f"{MFA}factors/{enrolled['id']}/").status_code == 403
    assert Authenticator.objects.filter(pk=enrolled["id"]).exists()


def test_a_session_enrols_and_steps_up_only_with_its_csrf_token(alice, clock):
    client = sign_in("session", alice)
    client.credentials()  # drop the X-CSRFToken header, keep the cookie
    for path, body in (("totp/", {}), ("webauthn/register/begin/", {}), ("step-up/", {"code": "123456"})):
        refused = client.post(f"{MFA}{path}", body, format="json")
        assert refused.status_code == 403 and "CSRF" in refused.json()["detail"], refused.content
    assert not MfaChallenge.objects.exists()


# --- bad input -----------------------------------------------------------------------

BAD_BODIES = [
    ("not_json", "{not json", "application/json"),
    ("a_list", "[1, 2]", "application/json"),
    ("nested", "[" * 5000 + "]" * 5000, "application/json"),
    ("huge_code", json.dumps({"setup_id": "x", "code": "1" * 200_000}), "application/json"),
    ("nul_byte", json.dumps({"setup_id": "a\x00b", "code": "123456"}), "application/json"),
    ("number", json.dumps({"setup_id": 12345, "code": 123456}), "application/json"),
    ("object", json.dumps({"setup_id": {"$gt": ""}, "code": ["1"]}), "application/json"),
    ("bad_utf8", b'{"setup_id": "\xff\xfe", "code": "1"}', "application/json"),
    ("xml", "<a/>", "application/xml"),
]
BAD_PATHS = ["totp/confirm/", "webauthn/register/", "step-up/", "webauthn/register/begin/"]


@pytest.mark.parametrize("path", BAD_PATHS)
@pytest.mark.parametrize("label, body, content_type", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_malformed_bodies_are_4xx_json_and_change_nothing(alice, path, label, body, content_type):
    client = sign_in("token", alice)
    response = client.generic("POST", f"{MFA}{path}", body, content_type=content_type)
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:200])
    assert isinstance(response.json(), dict)
    assert not Authenticator.objects.exists() and not AuditEvent.objects.filter(action=AuditAction.MFA_ENROLLED).exists()


@pytest.mark.parametrize(
    "credential",
    [{"id": "x" * 40_000}, {"response": {"clientDataJSON": 5}}, {"type": "public-key"}, "a string", [1, 2], None],
    ids=["huge", "wrong_types", "missing", "string", "list", "null"],
)
def test_a_malformed_webauthn_answer_is_400(alice, clock, credential):
    client = sign_in("token", alice)
    begun = client.post(f"{MFA}webauthn/register/begin/", {}, format="json").json()
    refused = client.post(f"{MFA}webauthn/register/", {"registration_id": begun["registration_id"], "credential": credential}, format="json")
    assert refused.status_code == 400 and not Authenticator.objects.exists()


def test_a_huge_name_is_400(alice, clock):
    client = sign_in("token", alice)
    begun = client.post(f"{MFA}webauthn/register/begin/", {}, format="json").json()
    body = {"registration_id": begun["registration_id"], "credential": SoftKey().create(begun["options"], ORIGIN), "name": "k" * 65}
    refused = client.post(f"{MFA}webauthn/register/", body, format="json")
    assert refused.status_code == 400 and list(refused.json()) == ["name"]


# --- the enrolment-limited sign-in (BOUNCER_MFA_REQUIRED) -------------------------------


@pytest.fixture
def staff_required(settings, db):
    settings.BOUNCER_MFA = {**settings.BOUNCER_MFA, "REQUIRED": "staff"}
    return make_user("carol", is_staff=True)


def enrolment_token(way, user) -> str:
    _, stopped = first_step(way, user)
    assert stopped.status_code == 401 and stopped.json()["code"] == "mfa_enrolment_required", stopped.content
    return stopped.json()["mfa_token"]


def test_staff_without_a_factor_enrols_an_app_with_the_mfa_token_then_signs_in(staff_required, way, clock):
    carol = staff_required
    token = enrolment_token(way, carol)
    anonymous = APIClient(enforce_csrf_checks=True)
    early = anonymous.post(f"{MFA}authenticate/", {"mfa_token": token}, format="json")
    assert early.status_code == 400 and early.json()["code"] == "mfa_enrolment_incomplete"

    app, enrolled = enrol_totp(anonymous, mfa_token=token)
    assert len(enrolled["recovery_codes"]) == 10
    done = anonymous.post(f"{MFA}authenticate/", {"mfa_token": token}, format="json")
    assert done.status_code == 200, done.content
    if way == "session":
        assert done.json() == {"message": "Login successful"}
    elif way == "token":
        assert done.json()["username"] == "carol" and DeviceToken.objects.filter(user=carol).count() == 1
    else:
        assert set(done.json()) >= {"access", "refresh"} and JwtFamily.objects.filter(user=carol).count() == 1
    signed_in = APIClient()
    if way == "session":
        signed_in = anonymous
    elif way == "token":
        signed_in.credentials(HTTP_AUTHORIZATION=f"Token {done.json()['token']}")
    else:
        signed_in.credentials(HTTP_AUTHORIZATION=f"Bearer {done.json()['access']}")
    assert signed_in.get("/api/accounts/profile/").json()["username"] == "carol"
    assert anonymous.post(f"{MFA}authenticate/", {"mfa_token": token}, format="json").json()["code"] == "mfa_token_invalid"

    _, next_time = first_step(way, carol)
    assert next_time.json()["code"] == "mfa_required"  # the factor is asked for from now on
    assert audit_count(AuditAction.MFA_ENROLLED, carol) == 1


def test_staff_enrols_a_security_key_with_the_mfa_token(staff_required, clock):
    token = enrolment_token("jwt", staff_required)
    anonymous = APIClient()
    enrolled = enrol_key(anonymous, SoftKey(), name="Staff key", mfa_token=token)
    assert enrolled["name"] == "Staff key" and enrolled["recovery_codes"]
    done = anonymous.post(f"{MFA}authenticate/", {"mfa_token": token}, format="json")
    assert done.status_code == 200 and "access" in done.json()


def test_the_enrolment_mfa_token_is_not_a_credential_anywhere_else(staff_required, clock):
    token = enrolment_token("jwt", staff_required)
    for header in (f"Bearer {token}", f"Token {token}"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        assert client.get("/api/accounts/profile/").status_code == 401
        assert client.get(f"{MFA}factors/").status_code == 401
        assert client.post(f"{MFA}totp/", {}, format="json").status_code == 401
    anonymous = APIClient()
    for method, path, body in MANAGEMENT_CALLS:
        if path in ("totp/", "totp/confirm/", "webauthn/register/begin/", "webauthn/register/"):
            continue
        response = getattr(anonymous, method)(f"{MFA}{path}", {**(body or {}), "mfa_token": token}, format="json")
        assert response.status_code == 401, (path, response.content)
    assert anonymous.post("/api/accounts/password/change/", {"mfa_token": token}, format="json").status_code == 401
    assert anonymous.post("/api/accounts/sessions/revoke-others/", {"mfa_token": token}, format="json").status_code == 401
    # Still good for what it is for.
    enrol_totp(anonymous, mfa_token=token)


def test_an_enrolment_token_dies_when_the_account_gets_a_factor_some_other_way(staff_required, clock):
    carol = staff_required
    stale = enrolment_token("jwt", carol)
    fresh = enrolment_token("jwt", carol)
    enrol_totp(APIClient(), mfa_token=fresh)
    # Whoever holds the other sign-in's token (the password) cannot add a key of theirs and sign in.
    refused = APIClient().post(f"{MFA}webauthn/register/begin/", {"mfa_token": stale}, format="json")
    assert refused.status_code == 401 and refused.json()["code"] == "mfa_token_invalid"
    assert APIClient().post(f"{MFA}authenticate/", {"mfa_token": stale}, format="json").status_code == 400
    assert Authenticator.objects.filter(user=carol, type="webauthn").count() == 0


def test_a_bad_or_spent_enrolment_token_is_401(staff_required, clock):
    for token in ("nope", "x" * 128):
        response = APIClient().post(f"{MFA}totp/", {"mfa_token": token}, format="json")
        assert response.status_code == 401 and response.json()["code"] == "mfa_token_invalid"
    _, stopped = first_step("jwt", staff_required)
    clock.shift(301)
    late = APIClient().post(f"{MFA}totp/", {"mfa_token": stopped.json()["mfa_token"]}, format="json")
    assert late.status_code == 401 and not MfaChallenge.objects.filter(purpose="totp_setup").exists()


def test_a_signin_mfa_token_does_not_enrol(alice, clock):
    client = sign_in("token", alice)
    app, _ = enrol_totp(client)
    _, stopped = first_step("jwt", alice)
    assert stopped.json()["code"] == "mfa_required"
    refused = APIClient().post(f"{MFA}webauthn/register/begin/", {"mfa_token": stopped.json()["mfa_token"]}, format="json")
    assert refused.status_code == 401 and refused.json()["code"] == "mfa_token_invalid"


def test_a_cross_site_browser_cannot_enrol_with_an_mfa_token(staff_required, clock):
    token = enrolment_token("session", staff_required)
    refused = APIClient().post(f"{MFA}totp/", {"mfa_token": token}, format="json", HTTP_ORIGIN="https://evil.example")
    assert refused.status_code == 403 and not MfaChallenge.objects.filter(purpose="totp_setup").exists()


# --- races (real threads, connections of their own: tests/concurrency.py) ------------------


THREADS = 6


@pytest.fixture
def _relaxed_throttles(settings):
    rates = {scope: "1000/min" for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def token_api(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_relaxed_throttles")
def test_two_confirms_of_one_setup_at_once_make_one_factor():
    alice = make_user("alice")
    _, signed_in = first_step("token", alice)
    key = signed_in.json()["token"]
    shown = token_api(key).post(f"{MFA}totp/", {}, format="json").json()
    body = {"setup_id": shown["setup_id"], "code": pyotp.TOTP(shown["secret"]).now()}

    def confirm():
        return token_api(key).post(f"{MFA}totp/confirm/", body, format="json").status_code

    statuses = at_once([confirm] * 4)

    assert sorted(statuses) == [201, 400, 400, 400]
    assert Authenticator.objects.filter(user=alice, type="totp").count() == 1
    assert Authenticator.objects.filter(user=alice, type="recovery_codes").count() == 1
    assert audit_count(AuditAction.MFA_ENROLLED, alice) == 1 and audit_count(AuditAction.RECOVERY_CODES_GENERATED, alice) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_relaxed_throttles")
def test_two_setups_confirmed_at_once_make_one_authenticator_app():
    alice = make_user("alice")
    _, signed_in = first_step("token", alice)
    key = signed_in.json()["token"]
    setups = [token_api(key).post(f"{MFA}totp/", {}, format="json").json() for _ in range(2)]

    def confirm(shown):
        body = {"setup_id": shown["setup_id"], "code": pyotp.TOTP(shown["secret"]).now()}
        return lambda: token_api(key).post(f"{MFA}totp/confirm/", body, format="json").status_code

    statuses = at_once([confirm(shown) for shown in setups])

    assert sorted(statuses) == [201, 409]
    assert Authenticator.objects.filter(user=alice, type="totp").count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_relaxed_throttles")
def test_removing_every_factor_at_once_when_required_keeps_one(settings):
    carol = make_user("carol", is_staff=True)
    _, signed_in = first_step("token", carol)
    key = signed_in.json()["token"]
    client = token_api(key)
    keys = [SoftKey() for _ in range(THREADS)]
    ids = [enrol_key(client, soft, name=f"key {n}")["id"] for n, soft in enumerate(keys)]
    settings.BOUNCER_MFA = {**settings.BOUNCER_MFA, "REQUIRED": "staff"}
    assert step_up_with_key(client, keys[0]).status_code == 200

    def remove(factor_id):
        return lambda: token_api(key).delete(f"{MFA}factors/{factor_id}/").status_code

    statuses = at_once([remove(factor_id) for factor_id in ids])

    assert sorted(statuses) == [204] * (THREADS - 1) + [409]
    assert Authenticator.objects.filter(user=carol, type="webauthn").count() == 1
    assert audit_count(AuditAction.MFA_REMOVED, carol) == THREADS - 1
    carol.refresh_from_db()
    assert carol.mfa_enabled
