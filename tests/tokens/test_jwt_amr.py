"""JWTs carry how the user signed in: ``amr`` and ``acr`` in the access token, ``amr`` in the refresh
token, kept by every rotation (both refresh paths, the grace replay), never widened by one."""

from __future__ import annotations

from datetime import timedelta

import jwt as pyjwt
import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from bouncer.tokens.jwt.codec import ACCESS, REFRESH, jwt_encode, uuid7
from bouncer.tokens.jwt.models import JwtFamily
from tests.multifactor.conftest import make_user, with_totp
from tests.multifactor.mfa_urls import MFA_ONLY
from tests.multifactor.signin import mfa_signin, password_signin

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.multifactor.mfa_urls")]

PROFILE = "/api/accounts/profile/"
MFA_AMR = ["pwd", "otp", "mfa"]


@pytest.fixture(autouse=True)
def key_file(tmp_path):
    with override_settings(BOUNCER_JWT={**settings.BOUNCER_JWT, "KEYS_FILE": str(tmp_path / "jwt_keys.json")}):
        yield


def verified(raw: str, api: APIClient | None = None) -> dict:
    """What another service does: the key by ``kid`` from /.well-known/jwks.json, the algorithm pinned."""
    header = pyjwt.get_unverified_header(raw)
    keys = (api or APIClient()).get("/.well-known/jwks.json").json()["keys"]
    key = pyjwt.PyJWK(next(k for k in keys if k["kid"] == header["kid"]))
    conf = settings.BOUNCER_JWT
    return pyjwt.decode(raw, key.key, algorithms=[conf["ALGORITHM"]], audience=conf["AUDIENCE"], issuer=conf["ISSUER"])


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def refresh(token: str, **extra):
    return APIClient().post("/api/token/refresh/", {"refresh": token, **extra}, format="json")


@pytest.fixture
def mfa_user(db):
    user = make_user("alice")
    return user, with_totp(user)


def mfa_pair(user, app) -> dict:
    return mfa_signin(APIClient(), user, app, way="jwt").json()


# --- issued ------------------------------------------------------------------------


def test_an_mfa_sign_in_puts_amr_and_acr_in_the_access_token_checked_from_the_jwks(mfa_user):
    user, app = mfa_user
    pair = mfa_pair(user, app)
    access = verified(pair["access"])
    assert access["amr"] == MFA_AMR and access["acr"] == "aal2"
    assert access["sub"] == str(user.pk) and access["token_type"] == "access"
    refreshing = verified(pair["refresh"])
    assert refreshing["amr"] == MFA_AMR and "acr" not in refreshing
    assert JwtFamily.objects.get().amr == "pwd otp mfa"
    assert bearer(pair["access"]).get(MFA_ONLY).status_code == 200


def test_a_password_sign_in_says_pwd_and_aal1(db):
    user = make_user("bob")
    pair = password_signin(APIClient(), user, way="jwt").json()
    access = verified(pair["access"])
    assert access["amr"] == ["pwd"] and access["acr"] == "aal1"
    assert verified(pair["refresh"])["amr"] == ["pwd"]
    assert JwtFamily.objects.get().amr == "pwd"
    refused = bearer(pair["access"]).get(MFA_ONLY)
    assert refused.status_code == 403 and refused.json()["code"] == "mfa_verification_required"


# --- kept by every refresh ---------------------------------------------------------


def _rotated_twice_keeps(pair: dict) -> dict:
    first = refresh(pair["refresh"])
    assert first.status_code == 200, first.content
    second = refresh(first.json()["refresh"])
    assert second.status_code == 200, second.content
    for token in (first.json()["access"], second.json()["access"]):
        assert verified(token)["amr"] == MFA_AMR and verified(token)["acr"] == "aal2"
    assert verified(second.json()["refresh"])["amr"] == MFA_AMR
    assert bearer(second.json()["access"]).get(MFA_ONLY).status_code == 200
    return second.json()


def test_refresh_in_a_transaction_keeps_the_amr(mfa_user):
    """Inside a transaction (this test's), every refresh takes the transaction path."""
    user, app = mfa_user
    _rotated_twice_keeps(mfa_pair(user, app))


@pytest.mark.django_db(transaction=True)
def test_refresh_in_one_statement_keeps_the_amr(mfa_user):
    """In autocommit, as production runs: on PostgreSQL the one-statement path (``_refresh_at_once``)."""
    user, app = mfa_user
    pair = mfa_pair(user, app)
    with CaptureQueriesContext(connection) as queries:
        rotated = refresh(pair["refresh"])
    assert rotated.status_code == 200
    if connection.vendor == "postgresql":
        assert any(q["sql"].startswith("WITH cfg") for q in queries.captured_queries)
    assert verified(rotated.json()["access"])["amr"] == MFA_AMR
    _rotated_twice_keeps(rotated.json())


def test_the_grace_replay_gets_the_successor_with_the_same_amr(mfa_user):
    user, app = mfa_user
    pair = mfa_pair(user, app)
    first = refresh(pair["refresh"]).json()
    again = refresh(pair["refresh"])  # the same client racing itself, within the grace window
    assert again.status_code == 200
    assert verified(again.json()["refresh"])["jti"] == verified(first["refresh"])["jti"]
    assert verified(again.json()["access"])["amr"] == MFA_AMR == verified(first["access"])["amr"]


# --- attacks ---------------------------------------------------------------------------


def _resigned(raw: str, **changes) -> str:
    """The token's header and claims with ``changes``, signed with a key that is not Bouncer's."""
    header = pyjwt.get_unverified_header(raw)
    claims = {**pyjwt.decode(raw, options={"verify_signature": False}), **changes}
    return pyjwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": header["kid"]})


def _tampered(raw: str, **changes) -> str:
    """The claims changed, Bouncer's signature of the original kept."""
    import base64
    import json

    head, _, signature = raw.split(".")
    claims = {**pyjwt.decode(raw, options={"verify_signature": False}), **changes}
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{head}.{body}.{signature}"


@pytest.mark.parametrize("forge", [_resigned, _tampered], ids=["resigned_with_another_key", "claims_changed"])
def test_an_access_token_with_a_forged_amr_is_refused(db, forge):
    user = make_user("bob")
    access = password_signin(APIClient(), user, way="jwt").json()["access"]
    forged = forge(access, amr=MFA_AMR, acr="aal2")
    for path in (PROFILE, MFA_ONLY):
        answer = bearer(forged).get(path)
        assert answer.status_code == 401
        assert answer.json()["code"] == "token_invalid"


@pytest.mark.parametrize("forge", [_resigned, _tampered], ids=["resigned_with_another_key", "claims_changed"])
def test_a_refresh_token_with_a_forged_amr_is_refused_and_mints_nothing(db, forge):
    user = make_user("bob")
    pair = password_signin(APIClient(), user, way="jwt").json()
    answer = refresh(forge(pair["refresh"], amr=MFA_AMR))
    assert answer.status_code == 401 and answer.json()["code"] == "token_invalid"
    # The real token still rotates, and into what it was.
    rotated = refresh(pair["refresh"])
    assert rotated.status_code == 200 and verified(rotated.json()["access"])["amr"] == ["pwd"]


def test_a_refresh_cannot_ask_for_a_stronger_amr(db):
    user = make_user("bob")
    pair = password_signin(APIClient(), user, way="jwt").json()
    asked = refresh(pair["refresh"], amr=MFA_AMR, acr="aal2")
    assert asked.status_code == 400  # the endpoint takes a refresh token, nothing else
    rotated = refresh(pair["refresh"]).json()
    assert verified(rotated["access"])["amr"] == ["pwd"] and verified(rotated["refresh"])["amr"] == ["pwd"]


def test_a_sign_in_from_before_the_factor_stays_single_factor_through_refresh(db):
    """Enrolling a factor proves nothing about the sign-ins made before: they refresh as they were."""
    user = make_user("bob")
    pair = password_signin(APIClient(), user, way="jwt").json()
    with_totp(user)
    rotated = refresh(pair["refresh"]).json()
    assert verified(rotated["access"])["amr"] == ["pwd"] and verified(rotated["access"])["acr"] == "aal1"
    assert bearer(rotated["access"]).get(MFA_ONLY).status_code == 403


def test_tokens_from_before_amr_work_and_count_as_password(db):
    """Issued before this change: no ``amr`` claim. They keep working, as ``pwd``, and refresh into ``pwd``."""
    user = make_user("bob")
    pair = password_signin(APIClient(), user, way="jwt").json()
    family = verified(pair["access"])["fam"]
    now = timezone.now()
    legacy_access, _ = jwt_encode(
        claims={"sub": str(user.pk), "fam": family, "username": user.username, "email": user.email, "is_staff": False},
        token_type=ACCESS, issued_at=now, lifetime=300,
    )
    assert bearer(legacy_access).get(PROFILE).status_code == 200
    assert bearer(legacy_access).get(MFA_ONLY).status_code == 403
    # A refresh token without the claim: as the one the sign-in issued, minus ``amr``.
    claims = verified(pair["refresh"])
    legacy_refresh, _ = jwt_encode(
        claims={"sub": claims["sub"], "fam": claims["fam"], "fexp": claims["fexp"]},
        token_type=REFRESH, issued_at=now, lifetime=3600, jti=claims["jti"],
    )
    rotated = refresh(legacy_refresh)
    assert rotated.status_code == 200, rotated.content
    assert verified(rotated.json()["access"])["amr"] == ["pwd"] and verified(rotated.json()["refresh"])["amr"] == ["pwd"]


def test_a_claim_of_another_shape_proves_nothing(db):
    """Only Bouncer signs these, but the reader does not trust the shape: anything but an array of known values is ``pwd``."""
    user = make_user("bob")
    family = verified(password_signin(APIClient(), user, way="jwt").json()["access"])["fam"]
    for odd in ("mfa", "pwd otp mfa", {"mfa": True}, 7, None, ["MFA"], [["mfa"]]):
        token, _ = jwt_encode(
            claims={"sub": str(user.pk), "fam": family, "amr": odd}, token_type=ACCESS, issued_at=timezone.now(), lifetime=300,
            jti=uuid7(),
        )
        assert bearer(token).get(MFA_ONLY).status_code == 403, odd


def test_refreshed_past_the_grace_a_replay_still_revokes(mfa_user):
    """Carrying amr changes nothing of the reuse rule."""
    user, app = mfa_user
    pair = mfa_pair(user, app)
    assert refresh(pair["refresh"]).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=60)):
        assert refresh(pair["refresh"]).json()["code"] == "token_revoked"
