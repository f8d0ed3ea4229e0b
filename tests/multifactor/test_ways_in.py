"""The second step on every API way in, as one matrix: way × factor.

Ways: session API, DRF token, JWT, JWT cookie mode, and social sign-in
(``POST /api/auth/google/`` with Google's recorded answers) issuing a DRF
token, a JWT pair or JWT cookies. Factors: TOTP (pyotp), a recovery code,
a WebAuthn security key (SoftKey). The first step answers 401
``mfa_required`` with the methods and issues nothing; the completion answers
exactly as the same way answers a user without a factor.

Then the ways that cannot carry a second step (the OAuth2 password grant,
Basic), and ``BOUNCER_MFA_REQUIRED`` (staff, all).
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.multifactor.models import MfaChallenge
from bouncer.oauth.validators import PASSWORD_GRANT_MFA
from tests.conftest import PASSWORD, make_user
from tests.multifactor.ways import (
    AUTHENTICATE,
    FACTORS,
    WAYS,
    answer,
    authenticate,
    credential_rows,
    first_step,
    give_factor,
    link_google,
    profile_with,
    shape,
)
from tests.oauth.conftest import make_app, password_grant
from tests.social.conftest import providers, recorded  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

MFA_AUDIT = (AuditAction.MFA_SUCCEEDED, AuditAction.MFA_FAILED, AuditAction.RECOVERY_CODE_USED, AuditAction.MFA_MISSING)


@pytest.fixture(autouse=True)
def _relaxed_throttles(settings):
    """A matrix cell makes several sign-ins; the throttles have their own tests (test_attacks.py)."""
    rates = {scope: "1000/min" for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


@pytest.fixture
def google(recorded):  # noqa: F811 (the fixture imported above)
    recorded.google_certs()
    return recorded


def people():
    alice, bob = make_user("alice"), make_user("bob")
    link_google(alice)
    link_google(bob)
    return alice, bob


def basic(username: str, password: str = PASSWORD) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


# --- the matrix ---------------------------------------------------------------------------------


@pytest.mark.parametrize("factor_kind", FACTORS)
@pytest.mark.parametrize("way", sorted(WAYS))
def test_second_step_stops_the_way_in_then_completes_into_what_it_asked(google, way, factor_kind):
    alice, bob = people()
    reference = first_step(APIClient(enforce_csrf_checks=True), way, bob)  # bob has no factor
    assert reference.status_code == 200, reference.content
    factor = give_factor(alice, factor_kind)
    api = APIClient(enforce_csrf_checks=True)

    stopped = first_step(api, way, alice)

    assert stopped.status_code == 401, stopped.content
    body = stopped.json()
    assert body["code"] == "mfa_required"
    assert body["methods"] == factor.methods
    assert set(body) == {"detail", "code", "mfa_token", "methods"}
    assert credential_rows(alice) == {"session": 0, "token": 0, "jwt": 0}
    assert not [name for name, morsel in stopped.cookies.items() if morsel.value and name != "csrftoken"]
    assert api.get("/api/accounts/profile/").status_code in (401, 403)

    done = answer(api, body["mfa_token"], factor)

    assert done.status_code == 200, done.content
    assert shape(done) == shape(reference)
    issued = credential_rows(alice)
    assert sum(issued.values()) == 1
    me = profile_with(api, way, done)
    assert me.status_code == 200 and me.json()["username"] == "alice"
    if WAYS[way] == "token":
        assert done.json()["username"] == "alice" and issued["token"] == 1
    success = AuditAction.RECOVERY_CODE_USED if factor_kind == "recovery_code" else AuditAction.MFA_SUCCEEDED
    assert list(AuditEvent.objects.filter(user=alice, action__in=MFA_AUDIT).values_list("action", flat=True)) == [success]
    assert AuditEvent.objects.get(user=alice, action=success).method == ("social" if way.startswith("social") else way.removesuffix("_cookie"))
    # Spent: the same mfa_token completes nothing more.
    again = authenticate(APIClient(), body["mfa_token"], code=factor.app.now() if factor.app else "123456")
    assert again.status_code == 401 and again.json()["code"] == "mfa_token_invalid"
    assert credential_rows(alice) == issued


@pytest.mark.parametrize("way", sorted(WAYS))
def test_a_user_without_factors_signs_in_at_once_on_every_way(google, way):
    alice, _ = people()
    api = APIClient(enforce_csrf_checks=True)

    response = first_step(api, way, alice)

    assert response.status_code == 200, response.content
    assert "mfa_token" not in response.json()
    assert sum(credential_rows(alice).values()) == 1
    assert profile_with(api, way, response).json()["username"] == "alice"
    assert not MfaChallenge.objects.exists()
    assert not AuditEvent.objects.filter(action__in=MFA_AUDIT).exists()


# --- ways that cannot carry a second step ---------------------------------------------------


def test_the_password_grant_refuses_a_user_with_a_factor_with_invalid_grant_and_says_why():
    alice = make_user("alice")
    give_factor(alice, "totp")
    app = make_app("password")

    refused = password_grant(app, alice)

    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_grant", "error_description": PASSWORD_GRANT_MFA}
    assert refused["Cache-Control"] == "no-store"
    from oauth2_provider.models import AccessToken, RefreshToken

    assert not AccessToken.objects.exists() and not RefreshToken.objects.exists()
    row = AuditEvent.objects.get(user=alice, action=AuditAction.LOGIN_FAILED)
    assert (row.method, row.data) == ("oauth2", {"reason": "mfa"})
    # The same answer as a wrong password would be a lie; but it must not be
    # reachable without the password: a wrong one is the generic refusal.
    wrong = password_grant(app, alice, password="not-the-password-1")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert wrong.json().get("error_description") != PASSWORD_GRANT_MFA


def test_basic_is_refused_for_a_user_with_a_factor_like_a_wrong_password():
    alice = make_user("alice")
    give_factor(alice, "totp")
    client = APIClient()

    refused = client.get("/api/accounts/profile/", HTTP_AUTHORIZATION=basic("alice"))
    wrong = client.get("/api/accounts/profile/", HTTP_AUTHORIZATION=basic("alice", "not-the-password-1"))

    assert refused.status_code == 401
    assert refused.json() == wrong.json()
    assert refused["WWW-Authenticate"] == wrong["WWW-Authenticate"]
    assert not MfaChallenge.objects.exists()
    assert AuditEvent.objects.filter(user=alice, action=AuditAction.LOGIN_FAILED, method="basic", data__reason="mfa").count() == 1


def test_basic_still_works_for_a_user_without_factors():
    make_user("alice")
    assert APIClient().get("/api/accounts/profile/", HTTP_AUTHORIZATION=basic("alice")).status_code == 200


# --- BOUNCER_MFA_REQUIRED ----------------------------------------------------------------------


def required(settings, policy: str) -> None:
    settings.BOUNCER_MFA = {**settings.BOUNCER_MFA, "REQUIRED": policy}


@pytest.mark.parametrize("way", sorted(WAYS))
def test_required_for_staff_a_staff_user_without_a_factor_gets_only_an_enrolment_token(google, settings, way):
    required(settings, "staff")
    carol = make_user("carol", is_staff=True)
    link_google(carol)
    api = APIClient(enforce_csrf_checks=True)

    stopped = first_step(api, way, carol)

    assert stopped.status_code == 401, stopped.content
    body = stopped.json()
    assert body["code"] == "mfa_enrolment_required" and body["methods"] == ["totp", "webauthn"]
    assert len(body["mfa_token"]) >= 40
    assert credential_rows() == {"session": 0, "token": 0, "jwt": 0}
    assert AuditEvent.objects.filter(user=carol, action=AuditAction.MFA_MISSING).count() == 1
    assert AuditEvent.objects.get(user=carol, action=AuditAction.MFA_MISSING).method == ("social" if way.startswith("social") else way.removesuffix("_cookie"))
    # The enrolment token completes nothing until a factor is enrolled with it (helper "manage"'s API).
    for extra in ({}, {"code": "123456"}, {"code": "abcde-fghij"}):
        incomplete = authenticate(api, body["mfa_token"], **extra)
        assert incomplete.status_code == 400 and incomplete.json()["code"] == "mfa_enrolment_incomplete"
    assert authenticate(api, body["mfa_token"]).json()["code"] == "mfa_enrolment_incomplete"  # and it is not spent by trying
    assert api.post("/api/auth/mfa/webauthn/begin/", {"mfa_token": body["mfa_token"]}, format="json").status_code == 401
    assert credential_rows() == {"session": 0, "token": 0, "jwt": 0}
    assert api.get("/api/accounts/profile/").status_code in (401, 403)
    assert not AuditEvent.objects.filter(user=carol, action__in=(AuditAction.MFA_SUCCEEDED, AuditAction.LOGIN_SUCCEEDED)).exists()


@pytest.mark.parametrize("way", sorted(WAYS))
def test_required_for_staff_leaves_other_users_alone(google, settings, way):
    required(settings, "staff")
    alice, _ = people()

    response = first_step(APIClient(), way, alice)

    assert response.status_code == 200, response.content
    assert not AuditEvent.objects.filter(action=AuditAction.MFA_MISSING).exists()


@pytest.mark.parametrize("way", ["session", "jwt", "social_token"])
def test_required_for_all_every_user_without_a_factor_must_enrol(google, settings, way):
    required(settings, "all")
    alice, _ = people()

    response = first_step(APIClient(), way, alice)

    assert response.status_code == 401 and response.json()["code"] == "mfa_enrolment_required"
    assert credential_rows() == {"session": 0, "token": 0, "jwt": 0}


@pytest.mark.parametrize("policy", ["staff", "all"])
def test_required_and_enrolled_the_usual_second_step_is_asked(google, settings, policy):
    required(settings, policy)
    carol = make_user("carol", is_staff=True)
    factor = give_factor(carol, "totp")
    api = APIClient()

    stopped = first_step(api, "jwt", carol)

    assert stopped.json()["code"] == "mfa_required"
    assert answer(api, stopped.json()["mfa_token"], factor).status_code == 200
    assert not AuditEvent.objects.filter(action=AuditAction.MFA_MISSING).exists()


@pytest.mark.parametrize("policy", ["staff", "all"])
def test_required_the_password_grant_and_basic_refuse_a_staff_user_without_a_factor(settings, policy):
    required(settings, policy)
    carol = make_user("carol", is_staff=True)

    refused = password_grant(make_app("password"), carol)

    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert "second factor" in refused.json()["error_description"]
    assert AuditEvent.objects.filter(user=carol, action=AuditAction.MFA_MISSING, method="oauth2").count() == 1
    basic_refused = APIClient().get("/api/accounts/profile/", HTTP_AUTHORIZATION=basic("carol"))
    assert basic_refused.status_code == 401
    assert AuditEvent.objects.filter(user=carol, action=AuditAction.MFA_MISSING, method="basic").count() == 1
    assert refused.json()["error_description"] != PASSWORD_GRANT_MFA  # says: enrol one first
    from oauth2_provider.models import AccessToken

    assert not AccessToken.objects.exists()


def test_required_for_staff_an_enrolment_token_is_no_sign_in_token(settings):
    """A second-step endpoint given the enrolment token of a staff user issues nothing, whatever it is sent."""
    required(settings, "staff")
    carol = make_user("carol", is_staff=True)
    token = first_step(APIClient(), "token", carol).json()["mfa_token"]

    for body in ({"mfa_token": token, "credential": {"id": "x"}}, {"mfa_token": token, "code": "000000"}):
        response = APIClient().post(AUTHENTICATE, body, format="json")
        assert response.status_code == 400, response.content
    assert credential_rows() == {"session": 0, "token": 0, "jwt": 0}
