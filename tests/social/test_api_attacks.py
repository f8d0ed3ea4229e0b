"""Attacks on POST /api/auth/<provider>/: forged, foreign, expired and replayed proofs; bad bodies."""

from __future__ import annotations

import base64
import json

import pytest
import time_machine
from django.utils import timezone

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.users.models import User
from tests.social.conftest import code_body, social_post
from tests.social.recorded import (
    KID,
    OTHER_KEY,
    google_claims,
    id_token,
    oidc_claims,
    public_pem,
)

pytestmark = pytest.mark.django_db

NONCE = "n-0S6_WzA2Mj"


def _refused(response, code: str) -> None:
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert not User.objects.exists()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- id_token ---------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["google", "idp"])
def test_id_token_for_another_audience_is_refused(api, recorded, provider):
    recorded.google_certs(), recorded.oidc()
    claims = google_claims(aud="999-other.apps.googleusercontent.com") if provider == "google" else oidc_claims(aud="another-client")

    _refused(social_post(api, provider, {"id_token": id_token(claims), "nonce": NONCE}), "social_token_invalid")


@pytest.mark.parametrize("provider", ["google", "idp"])
def test_id_token_from_another_issuer_is_refused(api, recorded, provider):
    recorded.google_certs(), recorded.oidc()
    claims = google_claims(iss="https://evil.example") if provider == "google" else oidc_claims(iss="https://evil.example")

    _refused(social_post(api, provider, {"id_token": id_token(claims), "nonce": NONCE}), "social_token_invalid")


def test_expired_id_token_is_refused(api, recorded):
    recorded.google_certs()
    token = id_token(google_claims())

    with time_machine.travel(timezone.now() + timezone.timedelta(hours=2)):
        _refused(social_post(api, "google", {"id_token": token, "nonce": NONCE}), "social_token_invalid")


def test_id_token_signed_by_another_key_is_refused(api, recorded):
    recorded.google_certs()

    _refused(social_post(api, "google", {"id_token": id_token(google_claims(), key=OTHER_KEY), "nonce": NONCE}), "social_token_invalid")


def test_id_token_with_alg_none_is_refused(api, recorded):
    recorded.google_certs()
    header = _b64(json.dumps({"alg": "none", "kid": KID, "typ": "JWT"}).encode())
    payload = _b64(json.dumps(google_claims()).encode())

    _refused(social_post(api, "google", {"id_token": f"{header}.{payload}.", "nonce": NONCE}), "social_token_invalid")


@pytest.mark.parametrize("provider", ["google", "idp"])
def test_id_token_hs256_keyed_with_the_public_key_is_refused_not_500(api, recorded, provider):
    recorded.google_certs(), recorded.oidc()
    claims = google_claims() if provider == "google" else oidc_claims()
    header = _b64(json.dumps({"alg": "HS256", "kid": KID, "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims).encode())
    import hashlib
    import hmac

    signature = _b64(hmac.new(public_pem(), f"{header}.{payload}".encode(), hashlib.sha256).digest())

    _refused(social_post(api, provider, {"id_token": f"{header}.{payload}.{signature}", "nonce": NONCE}), "social_token_invalid")


def test_id_token_without_kid_is_refused_not_500(api, recorded):
    recorded.google_certs()

    _refused(social_post(api, "google", {"id_token": id_token(google_claims(), kid=None), "nonce": NONCE}), "social_token_invalid")


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.", "...."])
def test_malformed_id_token_is_refused(api, recorded, token):
    recorded.google_certs()

    _refused(social_post(api, "google", {"id_token": token, "nonce": NONCE}), "social_token_invalid")


def test_id_token_without_nonce_claim_is_refused(api, recorded):
    recorded.google_certs()

    _refused(social_post(api, "google", {"id_token": id_token(google_claims(nonce=None)), "nonce": NONCE}), "social_nonce_mismatch")


def test_id_token_with_another_nonce_is_refused(api, recorded):
    recorded.google_certs()

    _refused(social_post(api, "google", {"id_token": id_token(google_claims()), "nonce": "something-else"}), "social_nonce_mismatch")


def test_id_token_without_nonce_in_the_body_answers_400(api, recorded):
    response = social_post(api, "google", {"id_token": id_token(google_claims())})

    assert response.status_code == 400
    assert "nonce" in json.dumps(response.json())


@pytest.mark.parametrize("jti", [None, "3f1c0a"])
def test_id_token_replayed_is_refused(api, recorded, jti):
    recorded.google_certs()
    body = {"id_token": id_token(google_claims(jti=jti)), "nonce": NONCE}
    assert social_post(api, "google", body).status_code == 200

    response = social_post(api, "google", body)

    assert response.status_code == 400
    assert response.json()["code"] == "social_token_replayed"
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED).count() == 1


def test_id_token_replayed_with_a_reencoded_signature_is_refused(api, recorded):
    """base64url decoders ignore a final character's spare bits: the same token in other bytes."""
    recorded.google_certs()
    token = id_token(google_claims(jti=None))
    assert social_post(api, "google", {"id_token": token, "nonce": NONCE}).status_code == 200
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    twin = token[:-1] + alphabet[last ^ 1]  # RS256 (256 bytes): the last character carries 4 spare bits
    assert twin != token

    response = social_post(api, "google", {"id_token": twin, "nonce": NONCE})

    assert response.status_code == 400
    assert response.json()["code"] in ("social_token_replayed", "social_token_invalid")
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED).count() == 1


def test_id_token_replayed_after_a_day_is_still_refused_while_valid(api, recorded):
    recorded.google_certs()
    body = {"id_token": id_token(google_claims(jti=None, exp=int(timezone.now().timestamp()) + 3600)), "nonce": NONCE}
    assert social_post(api, "google", body).status_code == 200

    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=50)):
        assert social_post(api, "google", body).json()["code"] == "social_token_replayed"


def test_id_token_single_use_survives_a_cache_flush(api, recorded):
    """The rule is a unique column, not a cache entry: a node or worker with a cache of its own refuses too."""
    from django.core.cache import cache

    recorded.google_certs()
    body = {"id_token": id_token(google_claims()), "nonce": NONCE}
    assert social_post(api, "google", body).status_code == 200
    cache.clear()

    assert social_post(api, "google", body).json()["code"] == "social_token_replayed"


def test_spent_proofs_are_purged_once_expired(db):
    from bouncer.social.models import SpentProof
    from bouncer.social.tokens import proof_spend

    assert proof_spend(digest="a" * 64, seconds=60)
    assert not proof_spend(digest="a" * 64, seconds=60)
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=2)):
        from django.core.cache import cache

        cache.clear()  # the purge runs at most hourly (a cache lock)
        assert proof_spend(digest="b" * 64, seconds=60)
        assert list(SpentProof.objects.values_list("digest", flat=True)) == ["b" * 64]


# --- code -------------------------------------------------------------------------------------


def test_code_replayed_is_refused_before_the_provider_is_asked(api, recorded):
    recorded.github_code()
    assert social_post(api, "github", code_body()).status_code == 200
    calls = len(recorded.mock.calls)

    response = social_post(api, "github", code_body())

    assert response.status_code == 400
    assert response.json()["code"] == "social_code_invalid"
    assert len(recorded.mock.calls) == calls


def test_code_without_verifier_or_redirect_uri_answers_400(api, recorded):
    for body in ({"code": "c", "redirect_uri": "https://app.example.com/cb"}, {"code": "c", "code_verifier": "v" * 43},
                 code_body(code_verifier="short"), code_body(code_verifier="has spaces in it" * 4)):
        response = social_post(api, "github", body)
        assert response.status_code == 400, body
    assert not recorded.mock.calls


# --- bodies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    {},
    {"code": "c", "redirect_uri": "https://a/cb", "code_verifier": "v" * 43, "access_token": "t"},
    {"access_token": "t", "id_token": "a.b.c", "nonce": "n"},
    {"access_token": "t", "nonce": "n"},
    {"access_token": 12345},
    {"access_token": ["t"]},
    {"access_token": {"$gt": ""}},
    {"access_token": "t\x00"},
    {"access_token": "t" * 5000},
    {"id_token": "x" * 20000, "nonce": "n"},
    {"access_token": "t", "credential": "session"},
    {"access_token": "t", "credential": "token", "cookie": True},
    {"access_token": "t", "is_staff": True},
    {"access_token": "t", "is_superuser": True, "username": "admin"},
    {"access_token": "t", "user_id": 1},
])
def test_bad_body_answers_400_and_asks_no_provider(api, recorded, body):
    response = social_post(api, "google", body)

    assert response.status_code == 400, response.content
    assert "detail" in response.json() or response.json()
    assert not recorded.mock.calls
    assert not User.objects.exists()


@pytest.mark.parametrize("raw,content_type", [
    (b"{not json", "application/json"),
    (b"\xff\xfe\x00", "application/json"),
    (b"[" * 5000 + b"]" * 5000, "application/json"),
    (b'"just a string"', "application/json"),
    (b"access_token=t", "text/plain"),
])
def test_malformed_body_answers_4xx_not_500(api, recorded, raw, content_type):
    response = api.post("/api/auth/google/", raw, content_type=content_type)

    assert 400 <= response.status_code < 500
    assert not recorded.mock.calls


def test_huge_body_answers_4xx(api, recorded):
    response = api.post("/api/auth/google/", json.dumps({"access_token": "t" * 3_000_000}), content_type="application/json")

    assert 400 <= response.status_code < 500
    assert not recorded.mock.calls


def test_provider_asserting_privileges_gets_none(api, recorded):
    user = {**recorded.body("github", "user"), "site_admin": True, "is_staff": True, "is_superuser": True}
    recorded.play("github", "token")
    recorded.play("github", "user", body=user)
    recorded.play("github", "emails")

    assert social_post(api, "github", code_body()).status_code == 200

    created = User.objects.get()
    assert not created.is_staff and not created.is_superuser


@pytest.mark.parametrize("login", ["admin", "../../etc", "ᴬdmin", "a" * 200, "", "root@evil", "Ａｄｍｉｎ"])
def test_username_from_the_provider_is_derived_safely(api, recorded, login):
    from tests.conftest import make_user

    make_user("admin")
    recorded.play("github", "token")
    recorded.play("github", "user", body={**recorded.body("github", "user"), "login": login})
    recorded.play("github", "emails", body=[{"email": "new@example.com", "primary": True, "verified": True, "visibility": None}])

    assert social_post(api, "github", code_body()).status_code == 200

    created = User.objects.exclude(username="admin").get()
    assert created.username != "admin" and created.username_normalized != "admin"
    assert len(created.username) <= 150
    assert all(ch.isascii() and (ch.isalnum() or ch in "_.-") for ch in created.username)


def test_per_address_throttle_answers_429_before_the_provider_is_asked(api, recorded, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "social": "2/min"}}
    recorded.play("google", "tokeninfo_invalid")
    for _ in range(2):
        assert social_post(api, "google", {"access_token": "bad"}).status_code == 400
    calls = len(recorded.mock.calls)

    response = social_post(api, "google", {"access_token": "bad"})

    assert response.status_code == 429
    assert "Retry-After" in response
    assert len(recorded.mock.calls) == calls
