"""Attacks on the second step: guessing, replay, stolen or expired ``mfa_token``, WebAuthn forgeries, bad input.

Every refusal issues nothing (``credential_rows`` unchanged) and is a clear
4xx in Bouncer's error shape; each factor event is one audit row, and no
secret (a code, an ``mfa_token``) reaches an audit row or a log line.
"""

from __future__ import annotations

import copy
import json
import logging

import pytest
import time_machine
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.multifactor.models import MfaChallenge
from bouncer.multifactor.recovery import recovery_codes_generate
from tests.conftest import PASSWORD, make_user
from tests.multifactor.conftest import with_totp
from tests.multifactor.softkey import SoftKey
from tests.multifactor.ways import (
    AUTHENTICATE,
    ORIGIN,
    WEBAUTHN_BEGIN,
    as_json,
    authenticate,
    credential_rows,
    first_step,
    webauthn_answer,
    with_webauthn,
    wrong_code,
)

pytestmark = pytest.mark.django_db

NOTHING = {"session": 0, "token": 0, "jwt": 0}


def rates(settings, **overrides) -> None:
    """Every throttle relaxed but those named (``mfa="3/min"``)."""
    relaxed = {scope: "1000/min" for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**relaxed, **overrides}}


def mfa(settings, **overrides) -> None:
    settings.BOUNCER_MFA = {**settings.BOUNCER_MFA, **overrides}


@pytest.fixture
def relaxed(settings):
    rates(settings)


@pytest.fixture
def alice(db):
    user = make_user("alice")
    return user, with_totp(user)


def token_of(user, way: str = "jwt", api=None) -> str:
    response = first_step(api or APIClient(), way, user)
    assert response.status_code == 401, response.content
    return response.json()["mfa_token"]


def failed_rows(user) -> int:
    return AuditEvent.objects.filter(user=user, action=AuditAction.MFA_FAILED).count()


# --- brute force ---------------------------------------------------------------------------


def test_codes_are_throttled_per_address(settings, alice):
    rates(settings, mfa="3/min")
    mfa(settings, TOKEN_ATTEMPTS=50)
    user, app = alice
    token = token_of(user)

    answers = [authenticate(APIClient(REMOTE_ADDR="198.51.100.7"), token, code=wrong_code(app)) for _ in range(4)]

    assert [a.status_code for a in answers] == [400, 400, 400, 429]
    assert answers[-1].json()["code"] == "throttled" and int(answers[-1]["Retry-After"]) > 0
    assert failed_rows(user) == 3  # the throttled one compared nothing
    # Another address is another bucket: the right code completes there.
    assert authenticate(APIClient(REMOTE_ADDR="198.51.100.8"), token, code=app.now()).status_code == 200


def test_codes_are_throttled_per_account_whatever_the_address(settings, alice):
    rates(settings, login_account="4/min")
    mfa(settings, TOKEN_ATTEMPTS=50)
    user, app = alice
    token = token_of(user)  # the password counted once on the account

    answers = [authenticate(APIClient(REMOTE_ADDR=f"198.51.100.{i}"), token, code=wrong_code(app)) for i in range(1, 5)]

    assert [a.status_code for a in answers] == [400, 400, 400, 429]
    assert authenticate(APIClient(REMOTE_ADDR="203.0.113.1"), token, code=app.now()).status_code == 429
    assert credential_rows() == NOTHING


def test_wrong_codes_lock_the_account_for_passwords_too_even_between_right_passwords(settings, relaxed, alice):
    """Signing in again with the right password does not wipe the wrong codes counted before it."""
    settings.BOUNCER_LOCKOUT_ATTEMPTS = 10
    mfa(settings, TOKEN_ATTEMPTS=5)
    user, app = alice
    api = APIClient()
    waiting = token_of(user, api=api)  # a sign-in left at its second step

    for _ in range(2):
        token = token_of(user, api=api)  # the right password again: the count stays
        for _ in range(5):
            assert authenticate(api, token, code=wrong_code(app)).status_code == 400
        assert authenticate(api, token, code=app.now()).status_code in (401, 429)  # five taken, or locked

    assert AuditEvent.objects.filter(user=user, action=AuditAction.ACCOUNT_LOCKED).count() == 1
    assert failed_rows(user) == settings.BOUNCER_LOCKOUT_ATTEMPTS
    locked = first_step(api, "jwt", user)
    assert locked.status_code == 429 and locked.json()["code"] == "account_locked"
    assert first_step(api, "session", user).status_code == 429
    assert authenticate(api, waiting, code=app.now()).status_code == 429
    assert credential_rows() == NOTHING


def test_wrong_passwords_and_wrong_codes_add_up_to_one_lockout(settings, relaxed, alice):
    settings.BOUNCER_LOCKOUT_ATTEMPTS = 10
    user, app = alice
    api = APIClient()
    for _ in range(9):
        assert first_step(api, "token", user, password="not-the-password-1").status_code == 400
    token = token_of(user, "token", api)

    last = authenticate(api, token, code=wrong_code(app))

    assert last.status_code == 400
    assert AuditEvent.objects.filter(user=user, action=AuditAction.ACCOUNT_LOCKED).count() == 1
    assert first_step(api, "token", user).status_code == 429


def test_a_signed_in_user_proving_the_password_again_still_clears_the_count(settings, relaxed, alice):
    """A password change's old password is no first step of a sign-in: a right one clears the count as before."""
    from bouncer.users.signin import signin_password_confirm

    settings.BOUNCER_LOCKOUT_ATTEMPTS = 4
    user, _ = alice
    for _ in range(2):
        for _ in range(3):
            assert not signin_password_confirm(request=None, user=user, password="not-the-password-1")
        assert signin_password_confirm(request=None, user=user, password=PASSWORD)
    assert not AuditEvent.objects.filter(action=AuditAction.ACCOUNT_LOCKED).exists()


def test_a_locked_account_cannot_complete_its_second_step(settings, relaxed, alice):
    settings.BOUNCER_LOCKOUT_ATTEMPTS = 3
    user, app = alice
    token = token_of(user)
    for _ in range(3):
        first_step(APIClient(), "jwt", user, password="not-the-password-1")

    refused = authenticate(APIClient(), token, code=app.now())

    assert refused.status_code == 429 and refused.json()["code"] == "account_locked"
    assert int(refused["Retry-After"]) > 0
    assert credential_rows() == NOTHING
    assert not AuditEvent.objects.filter(action=AuditAction.MFA_SUCCEEDED).exists()
    assert MfaChallenge.objects.get().used_at is None


def test_a_success_clears_the_count_of_wrong_codes(settings, relaxed, alice):
    settings.BOUNCER_LOCKOUT_ATTEMPTS = 4
    user, app = alice
    with time_machine.travel("2026-12-01 12:00:00", tick=False):
        token = token_of(user)
        for _ in range(3):
            authenticate(APIClient(), token, code=wrong_code(app))
        assert authenticate(APIClient(), token, code=app.now()).status_code == 200
    with time_machine.travel("2026-12-01 12:01:00", tick=False):
        again = token_of(user)
        for _ in range(3):
            assert authenticate(APIClient(), again, code=wrong_code(app)).status_code == 400
        assert authenticate(APIClient(), again, code=app.now()).status_code == 200


# --- replay --------------------------------------------------------------------------------------


def test_a_totp_code_is_refused_on_a_second_mfa_token_in_the_same_window(relaxed, alice):
    user, app = alice
    with time_machine.travel("2026-12-01 12:00:05", tick=False):
        first, second = token_of(user), token_of(user)
        code = app.now()
        assert authenticate(APIClient(), first, code=code).status_code == 200
        replay = authenticate(APIClient(), second, code=code)
    assert replay.status_code == 400 and replay.json()["code"] == "mfa_code_invalid"
    assert credential_rows()["jwt"] == 1


def test_an_older_code_is_refused_after_a_newer_one(relaxed, alice):
    user, app = alice
    with time_machine.travel("2026-12-01 12:00:05", tick=False) as clock:
        first, second = token_of(user), token_of(user)
        older = app.now()  # still inside the tolerance one window later
        clock.shift(30)
        newer = app.now()
        assert newer != older
        assert authenticate(APIClient(), first, code=newer).status_code == 200
        replay = authenticate(APIClient(), second, code=older)
    assert replay.status_code == 400 and replay.json()["code"] == "mfa_code_invalid"
    assert credential_rows()["jwt"] == 1


def test_the_code_of_the_next_window_is_not_burnt_by_an_older_one(relaxed, alice):
    user, app = alice
    with time_machine.travel("2026-12-01 12:00:05", tick=False) as clock:
        assert authenticate(APIClient(), token_of(user), code=app.now()).status_code == 200
        clock.shift(30)
        assert authenticate(APIClient(), token_of(user), code=app.now()).status_code == 200


# --- stolen, expired, crossed mfa_tokens -----------------------------------------------------


@pytest.mark.parametrize("extra", [{"issue": "jwt"}, {"credential_type": "jwt"}, {"cookie": True}, {"device_name": "attacker"}, {"username": "bob"}])
def test_a_stolen_mfa_token_cannot_switch_what_it_completes_into(relaxed, alice, extra):
    user, app = alice
    token = token_of(user, "token")  # alice's phone asked for a DRF token
    thief = APIClient(REMOTE_ADDR="203.0.113.66")

    switched = authenticate(thief, token, code=app.now(), **extra)

    assert switched.status_code == 400
    assert switched.json()[next(iter(extra))] == ["This field is not allowed."]
    assert credential_rows() == NOTHING
    assert MfaChallenge.objects.get().used_at is None and MfaChallenge.objects.get().failures == 0
    # The same token, as sent: exactly what was first asked, a DRF token for "phone".
    done = authenticate(thief, token, code=app.now())
    assert done.status_code == 200 and set(done.json()) == {"token", "user_id", "username", "email", "expiry"}
    assert credential_rows() == {"session": 0, "token": 1, "jwt": 0}
    from bouncer.tokens.opaque.models import DeviceToken

    assert DeviceToken.objects.get().device_name == "phone"


def test_a_cross_site_page_cannot_complete_a_session_sign_in_in_the_victims_browser(relaxed, alice):
    """Login CSRF: the attacker's own mfa_token and code, posted by another site from the victim's browser."""
    user, app = alice
    token = token_of(user, "session")
    browser = APIClient()

    refused = browser.post(AUTHENTICATE, {"mfa_token": token, "code": app.now()}, format="json", HTTP_ORIGIN="https://evil.example")

    assert refused.status_code == 403
    assert credential_rows() == NOTHING and MfaChallenge.objects.get().used_at is None
    assert browser.post(WEBAUTHN_BEGIN, {"mfa_token": token}, format="json", HTTP_ORIGIN="https://evil.example").status_code == 403
    same_site = browser.post(AUTHENTICATE, {"mfa_token": token, "code": app.now()}, format="json", HTTP_ORIGIN="http://testserver")
    assert same_site.status_code == 200


def test_an_mfa_token_expires(relaxed, alice):
    user, app = alice
    with time_machine.travel("2026-12-01 12:00:00", tick=False):
        token, late = token_of(user), token_of(user)
    with time_machine.travel("2026-12-01 12:04:59", tick=False):
        assert authenticate(APIClient(), token, code=app.now()).status_code == 200
    with time_machine.travel("2026-12-01 12:05:00", tick=False):
        expired = authenticate(APIClient(), late, code=wrong_code(app))
    assert expired.status_code == 401 and expired.json()["code"] == "mfa_token_invalid"
    assert credential_rows()["jwt"] == 1
    assert failed_rows(user) == 0  # nothing was compared


def test_the_token_of_one_user_with_the_code_of_another_is_refused(relaxed, alice):
    user, app = alice
    bob = make_user("bob")
    bob_app = with_totp(bob)
    with time_machine.travel("2026-12-01 12:00:05", tick=False):
        assert bob_app.now() not in {app.at(t) for t in (1796126375, 1796126405, 1796126435)}
        token = token_of(user)

        crossed = authenticate(APIClient(), token, code=bob_app.now())

        assert crossed.status_code == 400 and crossed.json()["code"] == "mfa_code_invalid"
        assert failed_rows(user) == 1 and failed_rows(bob) == 0
        # Bob's code was not spent by the attempt: Bob still signs in with it.
        assert authenticate(APIClient(), token_of(bob), code=bob_app.now()).status_code == 200
    assert credential_rows(user) == NOTHING


def test_a_user_deactivated_between_the_steps_completes_nothing(relaxed, alice):
    user, app = alice
    token = token_of(user, "session")
    user.is_active = False
    user.save()

    refused = authenticate(APIClient(), token, code=app.now())

    assert refused.status_code == 401 and refused.json()["code"] == "mfa_token_invalid"
    assert credential_rows() == NOTHING
    assert not AuditEvent.objects.filter(action__in=(AuditAction.MFA_SUCCEEDED, AuditAction.LOGIN_SUCCEEDED)).exists()


def test_a_user_deleted_between_the_steps_completes_nothing(relaxed, alice):
    user, app = alice
    token = token_of(user)
    user.delete()

    refused = authenticate(APIClient(), token, code=app.now())

    assert refused.status_code == 401 and refused.json()["code"] == "mfa_token_invalid"


def test_an_unknown_or_foreign_purpose_token_is_refused(relaxed, alice):
    from bouncer.multifactor.models import ChallengePurpose
    from bouncer.multifactor.services import challenge_create

    user, app = alice
    raw, _ = challenge_create(user=user, purpose=ChallengePurpose.TOTP_SETUP, data={})

    for token in (raw, "x" * 43, token_of(user) + "x"):
        refused = authenticate(APIClient(), token, code=app.now())
        assert refused.status_code == 401 and refused.json()["code"] == "mfa_token_invalid"
    assert credential_rows() == NOTHING


# --- recovery codes ------------------------------------------------------------------------------


def test_each_recovery_code_works_once_in_any_case_and_with_or_without_its_dash(relaxed, alice):
    user, _ = alice
    codes = recovery_codes_generate(user=user)
    spellings = [codes[0], codes[1].upper(), codes[2].replace("-", ""), f"  {codes[3][:3]} {codes[3][3:]} ", codes[4].upper().replace("-", " ")]

    for spelled in spellings:
        assert authenticate(APIClient(), token_of(user), code=spelled).status_code == 200, spelled
    for code in codes[:5]:
        again = authenticate(APIClient(), token_of(user), code=code)
        assert again.status_code == 400 and again.json()["code"] == "mfa_code_invalid"

    assert credential_rows()["jwt"] == 5
    assert AuditEvent.objects.filter(user=user, action=AuditAction.RECOVERY_CODE_USED).count() == 5
    assert failed_rows(user) == 5
    from allauth.mfa.models import Authenticator

    assert len(Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES).data["hashes"]) == len(codes) - 5


def test_a_recovery_code_of_another_user_is_refused(relaxed, alice):
    user, _ = alice
    bob = make_user("bob")
    with_totp(bob)
    recovery_codes_generate(user=user)
    bob_codes = recovery_codes_generate(user=bob)

    refused = authenticate(APIClient(), token_of(user), code=bob_codes[0])

    assert refused.status_code == 400
    assert authenticate(APIClient(), token_of(bob), code=bob_codes[0]).status_code == 200


# --- WebAuthn ---------------------------------------------------------------------------------


@pytest.fixture
def keyed(db):
    user = make_user("alice")
    return user, with_webauthn(user)


def send(token: str, credential, api=None):
    return (api or APIClient()).post(AUTHENTICATE, {"mfa_token": token, "credential": credential}, format="json")


def assert_refused(response, user, *, failures: int = 1) -> None:
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "webauthn_invalid"
    assert credential_rows() == NOTHING
    assert failed_rows(user) == failures


def test_webauthn_completes_and_counts(relaxed, keyed):
    user, key = keyed
    token = token_of(user)
    assert send(token, webauthn_answer(APIClient(), token, key)).status_code == 200
    assert AuditEvent.objects.get(user=user, action=AuditAction.MFA_SUCCEEDED).data == {"factor": "webauthn"}


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost.evil.example:8000", "null"])
def test_webauthn_from_another_origin_is_refused(relaxed, keyed, origin):
    user, key = keyed
    token = token_of(user)
    assert_refused(send(token, webauthn_answer(APIClient(), token, key, origin=origin)), user)


def test_webauthn_signed_for_another_rp_id_is_refused(relaxed, keyed):
    user, key = keyed
    token = token_of(user)
    assert_refused(send(token, webauthn_answer(APIClient(), token, key, rp_id="evil.example")), user)


def test_webauthn_with_a_tampered_signature_is_refused(relaxed, keyed):
    user, key = keyed
    token = token_of(user)
    assert_refused(send(token, webauthn_answer(APIClient(), token, key, tamper=True)), user)


def test_webauthn_without_user_presence_is_refused(relaxed, keyed):
    user, key = keyed
    token = token_of(user)
    assert_refused(send(token, webauthn_answer(APIClient(), token, key, user_present=False)), user)


def test_a_replayed_webauthn_assertion_is_refused(relaxed, keyed):
    user, key = keyed
    token = token_of(user)
    assertion = webauthn_answer(APIClient(), token, key)
    assert send(token, assertion).status_code == 200

    assert send(token, assertion).json()["code"] == "mfa_token_invalid"  # that sign-in is done
    later = token_of(user)
    assert APIClient().post(WEBAUTHN_BEGIN, {"mfa_token": later}, format="json").status_code == 200
    replayed = send(later, assertion)  # signed over the first sign-in's challenge
    assert replayed.status_code == 400 and replayed.json()["code"] == "webauthn_invalid"
    assert credential_rows()["jwt"] == 1


def test_an_answer_to_an_older_challenge_of_the_same_token_is_refused(relaxed, keyed):
    user, key = keyed
    token = token_of(user)
    old_options = APIClient().post(WEBAUTHN_BEGIN, {"mfa_token": token}, format="json").json()
    new_options = APIClient().post(WEBAUTHN_BEGIN, {"mfa_token": token}, format="json").json()
    assert old_options != new_options

    assert_refused(send(token, key.get(old_options, ORIGIN)), user)
    assert send(token, key.get(new_options, ORIGIN)).status_code == 200


def test_an_assertion_without_a_begun_challenge_is_refused(relaxed, keyed):
    user, key = keyed
    other = token_of(user)
    options = APIClient().post(WEBAUTHN_BEGIN, {"mfa_token": other}, format="json").json()
    token = token_of(user)  # never begun
    assert_refused(send(token, key.get(options, ORIGIN)), user)


def test_another_users_key_is_refused(relaxed, keyed):
    user, _ = keyed
    bob = make_user("bob")
    bob_key = with_webauthn(bob)
    token = token_of(user)
    options = APIClient().post(WEBAUTHN_BEGIN, {"mfa_token": token}, format="json").json()
    # Bob's key answers Alice's challenge (as if the client listed Bob's credential).
    from fido2.utils import websafe_encode

    options["publicKey"]["allowCredentials"] = [{"type": "public-key", "id": websafe_encode(list(bob_key.credentials)[0])}]

    assert_refused(send(token, bob_key.get(options, ORIGIN)), user)


def test_a_cloned_key_is_refused_when_its_counter_goes_back_and_audited(relaxed, keyed):
    user, key = keyed
    clone = copy.deepcopy(key)
    for _ in range(2):  # the key signs with counter 1, then 2
        token = token_of(user)
        assert send(token, webauthn_answer(APIClient(), token, key)).status_code == 200

    token = token_of(user)
    refused = send(token, webauthn_answer(APIClient(), token, clone))  # the clone signs 1 again

    assert refused.status_code == 400 and refused.json()["code"] == "webauthn_invalid"
    assert credential_rows()["jwt"] == 2
    row = AuditEvent.objects.get(user=user, action=AuditAction.MFA_FAILED)
    assert row.data == {"factor": "webauthn", "reason": "cloned"}


def test_a_key_without_a_counter_is_not_taken_for_a_clone(relaxed, db):
    user = make_user("alice")
    key = with_webauthn(user, SoftKey(counter_step=0))
    for _ in range(2):
        token = token_of(user)
        assert send(token, webauthn_answer(APIClient(), token, key)).status_code == 200


# --- bad input: 4xx JSON, never 500, nothing changed ---------------------------------------------


BAD_BODIES = [
    {"credential": []},
    {"credential": ["a", "b"]},
    {"credential": "a string"},
    {"credential": 7},
    {"credential": {}},
    {"credential": {"id": 1, "rawId": None, "response": [], "type": "public-key"}},
    {"credential": {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {"clientDataJSON": "!!", "authenticatorData": 3, "signature": {}}}},
    {"credential": {"nested": [[[[[[[[[[{}]]]]]]]]]]}},
    {"code": 123456},
    {"code": ["123456"]},
    {"code": {"x": 1}},
    {"code": True},
    {"code": None},
    {"code": "12345\x006"},
    {"code": "１２３４５６"},  # fullwidth digits
    {"code": "x" * 10_000},
    {"code": "123456", "credential": {"id": "x"}},
    {"mfa_token": 5},
    {"mfa_token": ["a"]},
    {"mfa_token": "abc\x00def"},
    {"mfa_token": "x" * 5000},
    {"mfa_token": None},
    {},
]


@pytest.mark.parametrize("body", BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_malformed_second_steps_are_a_4xx_json_answer(relaxed, alice, body):
    user, _ = alice
    token = token_of(user)
    payload = {"mfa_token": token, **body} if "mfa_token" not in body else body

    response = APIClient().post(AUTHENTICATE, payload, format="json")

    assert 400 <= response.status_code < 500, response.content
    assert response["Content-Type"].startswith("application/json")
    assert isinstance(response.json(), dict)
    assert credential_rows() == NOTHING
    begun = APIClient().post(WEBAUTHN_BEGIN, {"mfa_token": payload.get("mfa_token"), **({"x": 1} if body == {} else {})}, format="json")
    assert 200 <= begun.status_code < 500


@pytest.mark.parametrize(
    "raw,content_type",
    [
        (b"{" * 5000, "application/json"),
        (b'{"mfa_token": "' + b"a" * (1024 * 1024) + b'", "code": "1"}', "application/json"),
        (b"\xff\xfe\x00\x00", "application/json"),
        (b"mfa_token=abc&code=123456", "application/x-www-form-urlencoded"),
        (b"<xml/>", "application/xml"),
        (b'["mfa_token"]', "application/json"),
        (b"null", "application/json"),
        (b'"a string"', "application/json"),
    ],
    ids=["deep", "one_megabyte", "bad_utf8", "form", "xml", "list", "null", "string"],
)
def test_malformed_bodies_are_a_4xx_json_answer(relaxed, alice, raw, content_type):
    for url in (AUTHENTICATE, WEBAUTHN_BEGIN):
        response = APIClient().generic("POST", url, raw, content_type=content_type)
        assert 400 <= response.status_code < 500, (url, response.status_code, response.content[:200])
        assert response["Content-Type"].startswith("application/json")
    assert credential_rows() == NOTHING


# --- audit: one row per factor event, no secret anywhere -------------------------------------


def test_each_factor_event_is_one_audit_row_and_no_secret_is_written_or_logged(settings, relaxed, caplog):
    mfa(settings, REQUIRED="staff")
    user = make_user("alice")
    app = with_totp(user)
    codes = recovery_codes_generate(user=user)
    carol = make_user("carol", is_staff=True)
    secrets_seen: list[str] = []

    with caplog.at_level(logging.DEBUG):
        with time_machine.travel("2026-12-01 12:00:05", tick=False):
            token = token_of(user)
            bad = wrong_code(app)
            assert authenticate(APIClient(), token, code=bad).status_code == 400
            good = app.now()
            assert authenticate(APIClient(), token, code=good).status_code == 200
            recovery_token = token_of(user, "token")
            assert authenticate(APIClient(), recovery_token, code=codes[0]).status_code == 200
            enrol_token = first_step(APIClient(), "session", carol).json()["mfa_token"]
            secrets_seen += [token, recovery_token, enrol_token, bad, good, codes[0], codes[0].replace("-", "")]

    actions = list(AuditEvent.objects.filter(action__startswith="mfa").values_list("action", flat=True).order_by("pk"))
    actions += list(AuditEvent.objects.filter(action=AuditAction.RECOVERY_CODE_USED).values_list("action", flat=True))
    assert sorted(actions) == sorted([AuditAction.MFA_FAILED, AuditAction.MFA_SUCCEEDED, AuditAction.MFA_MISSING, AuditAction.RECOVERY_CODE_USED])
    stored = json.dumps([[row.username, row.user_agent, row.method, row.data] for row in AuditEvent.objects.all()])
    logged = "\n".join(
        json.dumps({k: repr(v) for k, v in vars(record).items()}) + record.getMessage() for record in caplog.records
    )
    for secret in secrets_seen:
        assert secret not in stored, secret
        assert secret not in logged, secret


def test_a_throttled_or_locked_attempt_writes_no_factor_row(settings, alice):
    rates(settings, mfa="1/min")
    user, app = alice
    token = token_of(user)
    authenticate(APIClient(), token, code=wrong_code(app))
    assert authenticate(APIClient(), token, code=app.now()).status_code == 429
    assert failed_rows(user) == 1
    assert not AuditEvent.objects.filter(action=AuditAction.MFA_SUCCEEDED).exists()


def test_the_begin_endpoint_keeps_the_challenge_on_the_row_not_in_the_answer(relaxed, keyed):
    user, _ = keyed
    token = token_of(user)
    options = APIClient().post(WEBAUTHN_BEGIN, {"mfa_token": token}, format="json").json()
    assert set(options) == {"publicKey"}
    state = MfaChallenge.objects.get().data["webauthn_state"]
    assert as_json(state)["challenge"] == options["publicKey"]["challenge"]
