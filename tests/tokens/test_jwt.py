"""JWT: obtain, use, refresh rotation with reuse detection, revocation, cookies, attacks."""

import base64
import json
from datetime import timedelta

import jwt as pyjwt
import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.tokens.jwt.authentication import JwtAuthentication
from bouncer.tokens.jwt.keys import key_ring
from bouncer.tokens.jwt.models import JwtFamily, JwtRefreshToken
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

PROFILE = "/api/accounts/profile/"


@pytest.fixture(autouse=True)
def key_file(tmp_path):
    with override_settings(BOUNCER_JWT={**settings.BOUNCER_JWT, "KEYS_FILE": str(tmp_path / "jwt_keys.json")}):
        yield tmp_path / "jwt_keys.json"


def jwt_conf(**changes):
    return override_settings(BOUNCER_JWT={**settings.BOUNCER_JWT, **changes})


def obtain(api, username="alice", password=PASSWORD, **extra):
    return api.post("/api/token/", {"username": username, "password": password, **extra}, format="json")


def bearer(api, token):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def refresh(api, token):
    api.credentials()
    return api.post("/api/token/refresh/", {"refresh": token}, format="json")


def claims_of(token):
    return pyjwt.decode(token, options={"verify_signature": False})


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


# --- obtain and use ---------------------------------------------------------


def test_obtain_returns_a_pair_with_the_contract_claims(api, user):
    response = obtain(api)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh"}
    access = claims_of(body["access"])
    assert (access["username"], access["email"], access["is_staff"]) == ("alice", "alice@example.com", False)
    assert (access["iss"], access["aud"], access["token_type"]) == ("bouncer", "bouncer-api", "access")
    assert access["exp"] - access["iat"] == settings.BOUNCER_JWT["ACCESS_LIFETIME_SECONDS"]
    assert access["jti"] and access["fam"]
    header = pyjwt.get_unverified_header(body["access"])
    assert header["alg"] == "ES256" and header["kid"] == key_ring()[0].kid
    assert claims_of(body["refresh"])["token_type"] == "refresh"
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_ISSUED, user=user, method="jwt").count() == 1


def test_access_token_authenticates_and_challenge_is_bearer(api, user):
    access = obtain(api).json()["access"]
    assert bearer(api, access).get(PROFILE).json()["username"] == "alice"
    api.credentials()
    response = api.get(PROFILE)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="bouncer"'


@pytest.mark.parametrize("case", ["unknown_user", "wrong_password"])
def test_obtain_failure_is_generic_and_issues_nothing(api, user, case):
    response = obtain(api, *{"unknown_user": ("nobody", PASSWORD), "wrong_password": ("alice", "nope-nope")}[case])
    assert response.status_code == 401  # SPEC.md: 401 generic, as simplejwt (was 400)
    assert response["WWW-Authenticate"] == 'Bearer realm="bouncer"'
    assert response.json() == {"error": "Invalid credentials"}
    assert not JwtFamily.objects.exists()


# --- refresh rotation and reuse --------------------------------------------


def test_refresh_rotates_and_the_new_pair_works(api, user):
    pair = obtain(api).json()
    response = refresh(api, pair["refresh"])
    assert response.status_code == 200
    new = response.json()
    assert new["refresh"] != pair["refresh"]
    assert claims_of(new["refresh"])["fam"] == claims_of(pair["refresh"])["fam"]
    assert bearer(api, new["access"]).get(PROFILE).status_code == 200
    assert JwtRefreshToken.objects.filter(used_at__isnull=False).count() == 1


def test_refresh_reused_after_rotation_revokes_family(api, user):
    pair = obtain(api).json()
    rotated = refresh(api, pair["refresh"]).json()
    with time_machine.travel(timezone.now() + timedelta(seconds=30), tick=False):
        replay = refresh(api, pair["refresh"])
        assert replay.status_code == 401
        assert replay.json()["code"] == "token_revoked"
        # The legitimate client's newer tokens die with the family.
        assert refresh(api, rotated["refresh"]).status_code == 401
        access = bearer(api, rotated["access"]).get(PROFILE)
        assert access.status_code == 401 and access.json()["code"] == "token_revoked"
    assert JwtFamily.objects.get().revoke_reason == "reuse"
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_REUSE_DETECTED, user=user).count() == 1


def test_refresh_replayed_within_grace_is_a_second_tab_not_an_attack(api, user):
    pair = obtain(api).json()
    first = refresh(api, pair["refresh"])
    second = refresh(api, pair["refresh"])
    assert first.status_code == second.status_code == 200
    assert JwtFamily.objects.get().revoked_at is None
    assert bearer(api, second.json()["access"]).get(PROFILE).status_code == 200


def test_refresh_replayed_within_grace_gets_the_very_successor_not_a_new_token(api, user):
    pair = obtain(api).json()
    first = refresh(api, pair["refresh"]).json()
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.BOUNCER_JWT["REUSE_GRACE_SECONDS"] - 1)):
        again = refresh(api, pair["refresh"])
    assert again.status_code == 200
    again = again.json()
    # The same successor: every claim equal (the bytes may differ: ES256 signatures are randomized).
    assert claims_of(again["refresh"]) == claims_of(first["refresh"])
    assert claims_of(again["access"]) == claims_of(first["access"])
    family = JwtFamily.objects.get()
    assert JwtRefreshToken.objects.filter(family=family).count() == 2  # the presented one and one successor
    assert JwtRefreshToken.objects.filter(family=family, used_at__isnull=True).count() == 1
    # Either copy is the one live token: it rotates once, and then the other copy is spent.
    assert bearer(api, again["access"]).get(PROFILE).status_code == 200
    third = refresh(api, again["refresh"])
    assert third.status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        assert refresh(api, first["refresh"]).json()["code"] == "token_revoked"
        assert bearer(api, third.json()["access"]).get(PROFILE).status_code == 401
    assert JwtFamily.objects.get().revoke_reason == "reuse"


def test_refresh_replayed_within_grace_after_a_newer_rotation_revokes_the_family(api, user):
    pair = obtain(api).json()
    second = refresh(api, pair["refresh"]).json()
    newest = refresh(api, second["refresh"]).json()
    # Within the grace of its rotation, but its successor is spent: two generations back.
    replay = refresh(api, pair["refresh"])
    assert replay.status_code == 401 and replay.json()["code"] == "token_revoked"
    assert bearer(api, newest["access"]).get(PROFILE).json()["code"] == "token_revoked"
    assert refresh(api, newest["refresh"]).status_code == 401
    assert JwtFamily.objects.get().revoke_reason == "reuse"
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_REUSE_DETECTED, user=user).count() == 1


def test_refresh_retried_within_grace_after_logout_is_refused_and_mints_nothing(api, user):
    pair = obtain(api).json()
    rotated = refresh(api, pair["refresh"]).json()
    assert api.post("/api/token/blacklist/", {"refresh": rotated["refresh"]}, format="json").status_code == 200
    retry = refresh(api, pair["refresh"])  # within the grace, but the sign-in has ended
    assert retry.status_code == 401 and retry.json()["code"] == "token_revoked"
    assert JwtRefreshToken.objects.count() == 2
    assert bearer(api, rotated["access"]).get(PROFILE).status_code == 401


def test_other_sign_ins_survive_a_reuse(api, user):
    phone = obtain(api).json()
    laptop = obtain(api).json()
    refresh(api, phone["refresh"])
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        assert refresh(api, phone["refresh"]).status_code == 401
        assert bearer(api, laptop["access"]).get(PROFILE).status_code == 200


# --- revocation -------------------------------------------------------------


def test_blacklist_kills_refresh_and_access_at_once(api, user):
    pair = obtain(api).json()
    assert bearer(api, pair["access"]).get(PROFILE).status_code == 200  # cached as live
    api.credentials()
    response = api.post("/api/token/blacklist/", {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 200
    assert bearer(api, pair["access"]).get(PROFILE).status_code == 401
    assert refresh(api, pair["refresh"]).status_code == 401
    assert api.post("/api/token/blacklist/", {"refresh": pair["refresh"]}, format="json").status_code == 401
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_REVOKED, user=user, method="jwt").count() == 1


def test_password_change_kills_other_sign_ins_keeps_the_current_one(api, user):
    other = obtain(api).json()
    current = obtain(api).json()
    assert bearer(api, other["access"]).get(PROFILE).status_code == 200
    response = bearer(api, current["access"]).post(
        "/api/accounts/password/change/", {"old_password": PASSWORD, "new_password": "new-passphrase-77"}, format="json"
    )
    assert response.status_code == 200
    assert bearer(api, current["access"]).get(PROFILE).status_code == 200
    assert bearer(api, other["access"]).get(PROFILE).status_code == 401
    assert refresh(api, other["refresh"]).status_code == 401
    assert refresh(api, current["refresh"]).status_code == 200


def test_deactivated_user_access_token_dies_at_once(api, user):
    pair = obtain(api).json()
    assert bearer(api, pair["access"]).get(PROFILE).status_code == 200
    user.is_active = False
    user.save()
    assert bearer(api, pair["access"]).get(PROFILE).status_code == 401
    assert refresh(api, pair["refresh"]).status_code == 401


def test_verify(api, user):
    pair = obtain(api).json()
    assert api.post("/api/token/verify/", {"token": pair["access"]}, format="json").json() == {}
    assert api.post("/api/token/verify/", {"token": pair["refresh"]}, format="json").status_code == 200
    api.post("/api/token/blacklist/", {"refresh": pair["refresh"]}, format="json")
    response = api.post("/api/token/verify/", {"token": pair["access"]}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "token_revoked"
    assert api.post("/api/token/verify/", {"token": "garbage"}, format="json").status_code == 401


def test_verify_refuses_a_rotated_refresh_token(api, user):
    pair = obtain(api).json()
    rotated = refresh(api, pair["refresh"]).json()
    response = api.post("/api/token/verify/", {"token": pair["refresh"]}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "token_revoked"
    # The live refresh token and the access tokens of the sign-in still verify.
    assert api.post("/api/token/verify/", {"token": rotated["refresh"]}, format="json").status_code == 200
    assert api.post("/api/token/verify/", {"token": pair["access"]}, format="json").status_code == 200
    assert JwtFamily.objects.get().revoked_at is None  # verifying is not a use: nothing is revoked


@pytest.mark.parametrize("auth_cache, queries", [(300, 0), (0, 1)])
def test_verify_query_budget_access_as_before_refresh_one_row_more(api, user, auth_cache, queries, django_assert_num_queries):
    with override_settings(BOUNCER_AUTH_CACHE_SECONDS=auth_cache):
        pair = obtain(api).json()
        api.post("/api/token/verify/", {"token": pair["access"]}, format="json")  # warm
        with django_assert_num_queries(queries):
            assert api.post("/api/token/verify/", {"token": pair["access"]}, format="json").status_code == 200
        with django_assert_num_queries(queries + 1):  # + is it the sign-in's unretired token
            assert api.post("/api/token/verify/", {"token": pair["refresh"]}, format="json").status_code == 200


# --- attacks ----------------------------------------------------------------


def forge(token, *, header=None, payload=None, signature=None):
    h, p, s = token.split(".")
    if header is not None:
        h = b64(header)
    if payload is not None:
        p = b64(payload)
    return ".".join([h, p, s if signature is None else signature])


def test_attacks_are_401_with_a_code(api, user):
    access = obtain(api).json()["access"]
    claims, header = claims_of(access), pyjwt.get_unverified_header(access)
    public_pem = key_ring()[0].public.public_bytes(
        encoding=__import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.PEM,
        format=__import__("cryptography.hazmat.primitives.serialization", fromlist=["PublicFormat"]).PublicFormat.SubjectPublicKeyInfo,
    )
    import hashlib
    import hmac

    def hs256_with(key: bytes, body: dict, hdr: dict) -> str:
        signing_input = f"{b64(hdr)}.{b64(body)}".encode()
        sig = base64.urlsafe_b64encode(hmac.new(key, signing_input, hashlib.sha256).digest()).decode().rstrip("=")
        return f"{signing_input.decode()}.{sig}"

    attacks = {
        "alg_none": forge(access, header={"alg": "none", "typ": "JWT", "kid": header["kid"]}, signature=""),
        "alg_confusion": hs256_with(public_pem, claims, {"alg": "HS256", "typ": "JWT", "kid": header["kid"]}),
        "tampered_payload": forge(access, payload={**claims, "is_staff": True, "username": "admin"}),
        "tampered_signature": access[:-4] + ("AAAA" if not access.endswith("AAAA") else "BBBB"),
    }
    for name, token in attacks.items():
        response = bearer(api, token).get(PROFILE)
        assert response.status_code == 401, name
        assert response.json().get("code") == "token_invalid", (name, response.json())


@pytest.mark.parametrize(
    "changes, code",
    [
        ({"ISSUER": "someone-else"}, None),  # not ours: left to other classes, still 401
        ({"AUDIENCE": "other-api"}, "token_invalid"),
    ],
)
def test_wrong_issuer_or_audience_is_refused(api, user, changes, code):
    with jwt_conf(**changes):
        access = obtain(api).json()["access"]
    response = bearer(api, access).get(PROFILE)
    assert response.status_code == 401
    if code:
        assert response.json()["code"] == code


def test_expired_and_not_yet_valid_tokens_are_refused(api, user):
    access = obtain(api).json()["access"]
    with time_machine.travel(timezone.now() + timedelta(minutes=10), tick=False):
        response = bearer(api, access).get(PROFILE)
        assert response.status_code == 401 and response.json()["code"] == "token_expired"
    with time_machine.travel(timezone.now() - timedelta(minutes=10), tick=False):
        response = bearer(api, access).get(PROFILE)
        assert response.status_code == 401 and response.json()["code"] == "token_not_yet_valid"


def test_refresh_token_is_never_an_access_token(api, user):
    response = bearer(api, obtain(api).json()["refresh"]).get(PROFILE)
    assert response.status_code == 401 and response.json()["code"] == "token_wrong_type"
    access = obtain(api).json()["access"]
    assert refresh(api, access).json()["code"] == "token_wrong_type"


def test_unknown_kid_and_huge_and_garbage_tokens_are_refused(api, user):
    access = obtain(api).json()["access"]
    unknown_kid = forge(access, header={**pyjwt.get_unverified_header(access), "kid": "not-a-key"})
    garbage_ours = forge(access, payload={"iss": "bouncer"}, signature="xx")
    for token in [unknown_kid, "x" * 10_000, "a.b.c", "not-a-jwt", garbage_ours]:
        assert bearer(api, token).get(PROFILE).status_code == 401


def test_opaque_bearer_value_is_left_to_the_next_class(rf):
    request = rf.get(PROFILE, HTTP_AUTHORIZATION="Bearer 2YotnFZFEjr1zCsicMWpAA")
    from rest_framework.request import Request

    assert JwtAuthentication().authenticate(Request(request)) is None


def test_another_issuers_jwt_is_left_to_the_next_class(rf):
    from rest_framework.request import Request

    foreign = pyjwt.encode({"iss": "https://accounts.example.com", "sub": "1"}, "another-issuers-secret-of-32-bytes!", algorithm="HS256")
    request = rf.get(PROFILE, HTTP_AUTHORIZATION=f"Bearer {foreign}")
    assert JwtAuthentication().authenticate(Request(request)) is None


# --- cookie mode ------------------------------------------------------------


def test_cookie_mode_end_to_end(api, user):
    response = obtain(api, cookie=True)
    assert response.status_code == 200
    assert set(response.json()) == {"access_expires", "refresh_expires"}
    access_cookie = response.cookies[settings.BOUNCER_JWT["ACCESS_COOKIE"]]
    refresh_cookie = response.cookies[settings.BOUNCER_JWT["REFRESH_COOKIE"]]
    assert access_cookie["httponly"] and refresh_cookie["httponly"]
    assert refresh_cookie["path"] == "/api/token/" and refresh_cookie["samesite"] == "Strict"
    assert api.get(PROFILE).status_code == 200
    # Unsafe request authenticated by cookie: CSRF required.
    assert api.patch(PROFILE, {"first_name": "A"}, format="json").status_code == 403
    csrf = api.get("/api/accounts/csrf/").json()["csrfToken"]
    assert api.patch(PROFILE, {"first_name": "A"}, format="json", HTTP_X_CSRFTOKEN=csrf).status_code == 200
    # Refresh from the cookie, answered in cookies.
    rotated = api.post("/api/token/refresh/", {}, format="json")
    assert rotated.status_code == 200 and "access" not in rotated.json()
    assert rotated.cookies[settings.BOUNCER_JWT["REFRESH_COOKIE"]].value != refresh_cookie.value
    # Logout clears both cookies and revokes the sign-in.
    out = api.post("/api/token/blacklist/", {}, format="json")
    assert out.status_code == 200
    assert out.cookies[settings.BOUNCER_JWT["ACCESS_COOKIE"]].value == ""
    assert JwtFamily.objects.get().revoked_at is not None


# --- storage and keys -------------------------------------------------------


RELAXED = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {k: "10000/min" for k in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}}


def test_storage_stays_bounded_under_continuous_logins(api, user):
    with jwt_conf(REFRESH_LIFETIME_SECONDS=3600), override_settings(REST_FRAMEWORK=RELAXED):
        for _ in range(30):
            refresh(api, obtain(api).json()["refresh"])
        assert JwtFamily.objects.count() == 30
        # Families outlive their newest refresh token by at most a day.
        with time_machine.travel(timezone.now() + timedelta(days=1, hours=2), tick=False):
            for _ in range(3):
                obtain(api)
            assert JwtFamily.objects.count() == 3
            assert JwtRefreshToken.objects.count() == 3


def test_key_rotation_keeps_old_tokens_valid_and_publishes_both_keys(api, user, key_file):
    old = obtain(api).json()["access"]
    call_command("jwt_rotate_keys")
    new = obtain(api).json()["access"]
    assert pyjwt.get_unverified_header(new)["kid"] != pyjwt.get_unverified_header(old)["kid"]
    for token in (old, new):
        assert bearer(api, token).get(PROFILE).status_code == 200
    kids = {key["kid"] for key in api.get("/.well-known/jwks.json").json()["keys"]}
    assert kids == {pyjwt.get_unverified_header(t)["kid"] for t in (old, new)}
    call_command("jwt_rotate_keys", retire=pyjwt.get_unverified_header(old)["kid"])
    assert bearer(api, old).get(PROFILE).status_code == 401
    assert bearer(api, new).get(PROFILE).status_code == 200


def test_hs256_is_available_by_configuration(api, user):
    with jwt_conf(ALGORITHM="HS256"):
        access = obtain(api).json()["access"]
        assert pyjwt.get_unverified_header(access)["alg"] == "HS256"
        assert bearer(api, access).get(PROFILE).status_code == 200
        assert api.get("/.well-known/jwks.json").json() == {"keys": []}


@pytest.mark.parametrize("auth_cache, queries", [(300, 0), (0, 1)])
def test_jwt_profile_query_budget(api, user, auth_cache, queries, django_assert_num_queries):
    with override_settings(BOUNCER_AUTH_CACHE_SECONDS=auth_cache):
        access = obtain(api).json()["access"]
        bearer(api, access).get(PROFILE)  # warm
        with django_assert_num_queries(queries):
            assert api.get(PROFILE).status_code == 200


def test_admin_lists_sign_ins_and_revokes_them(api, user, admin_client):
    pair = obtain(api).json()
    family = JwtFamily.objects.get()
    assert admin_client.get("/admin/tokens/jwtfamily/").status_code == 200
    response = admin_client.post(
        "/admin/tokens/jwtfamily/", {"action": "revoke", "_selected_action": [str(family.pk)]}
    )
    assert response.status_code == 302
    assert bearer(api, pair["access"]).get(PROFILE).status_code == 401
    assert JwtFamily.objects.get().revoke_reason == "admin"


def test_production_never_invents_a_signing_key(tmp_path):
    from django.core.exceptions import ImproperlyConfigured

    missing = tmp_path / "none.json"
    with jwt_conf(KEYS_FILE=str(missing)), override_settings(BOUNCER_PRODUCTION=True):
        with pytest.raises(ImproperlyConfigured, match="jwt_rotate_keys"):
            key_ring()
    assert not missing.exists()


def test_single_private_key_from_the_environment(api, user):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with jwt_conf(PRIVATE_KEY=pem):
        access = obtain(api).json()["access"]
        assert pyjwt.get_unverified_header(access)["kid"] == key_ring()[0].kid
        assert bearer(api, access).get(PROFILE).status_code == 200


def _rotation_statements(api, user, token):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = refresh(api, token)
    return response, [q["sql"] for q in queries.captured_queries if "synchronous_commit" in q["sql"]]


@pytest.mark.parametrize("durable", [False, True])
def test_only_a_winning_rotation_skips_the_wal_flush_on_postgresql(api, user, durable):
    """The trade documented in docs/jwt.md ("Durability"): a won rotation commits without
    waiting for the flush unless BOUNCER_JWT_REFRESH_DURABLE; reuse detection always waits."""
    from django.db import connection

    with jwt_conf(REFRESH_DURABLE=durable):
        first = obtain(api).json()["refresh"]
        won, statements = _rotation_statements(api, user, first)
        assert won.status_code == 200
        expected = ["SET LOCAL synchronous_commit TO OFF"] if connection.vendor == "postgresql" and not durable else []
        assert statements == expected
        with time_machine.travel(timezone.now() + timedelta(seconds=60)):
            reused, statements = _rotation_statements(api, user, first)
        assert reused.status_code == 401 and reused.json()["code"] == "token_revoked"
        assert statements == []
        assert JwtFamily.objects.get().revoked_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_won_rotation_outside_a_transaction_is_one_statement_on_postgresql(api, user):
    """Production runs each request in autocommit: on PostgreSQL the whole winning rotation
    (retire, store the successor, the audit row) is one statement; elsewhere one transaction."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = obtain(api).json()["refresh"]
    with CaptureQueriesContext(connection) as queries:
        response = refresh(api, first)
    assert response.status_code == 200
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT", "WITH"))]
    if connection.vendor == "postgresql":
        assert len(writes) == 1 and writes[0].startswith("WITH cfg")
    else:
        assert [sql.split()[0].upper() for sql in writes] == ["UPDATE", "INSERT", "INSERT"]
    # Exactly what the transaction path stores: the old token spent, one live successor,
    # one audit row naming the sign-in.
    family = JwtFamily.objects.get()
    assert JwtRefreshToken.objects.filter(family=family, used_at__isnull=True).count() == 1
    assert JwtRefreshToken.objects.filter(family=family).count() == 2
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_REFRESHED)
    assert event.user == user and event.data == {"family": str(family.pk), "grace": False}
    assert str(event.ip_address) == "127.0.0.1"
    # The successor rotates; the spent token, replayed after the grace, revokes the sign-in.
    assert refresh(api, response.json()["refresh"]).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=60)):
        assert refresh(api, first).json()["code"] == "token_revoked"
    family.refresh_from_db()
    assert family.revoked_at is not None and family.revoke_reason == "reuse"


@pytest.mark.parametrize(
    "url,body",
    [
        ("/api/token/refresh/", {}),
        ("/api/token/refresh/", {"refresh": "0" * 5000}),
        ("/api/token/blacklist/", {}),
        ("/api/token/blacklist/", {"refresh": "not-a-jwt"}),
        ("/api/token/verify/", {"token": "0" * 5000}),
        ("/api/token/verify/", {"token": "not-a-jwt"}),
    ],
    ids=["refresh-missing", "refresh-huge", "blacklist-missing", "blacklist-garbage", "verify-huge", "verify-garbage"],
)
@pytest.mark.parametrize("encoding", ["json", "multipart"])
def test_refused_token_answer_is_401_as_described(api, url, body, encoding):
    """The fuzzer found these 401s missing from the description (a missing, huge or garbage token)."""
    from tests.schema_support import assert_answer_described

    response = api.post(url, body, format=encoding)
    assert response.status_code == 401, response.content
    assert response.json()["code"] in {"token_missing", "token_invalid"}
    assert_answer_described(response, "POST", url)
    assert not JwtFamily.objects.exists()
