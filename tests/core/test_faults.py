"""Dependency outages in-process: 503 JSON, and a revocation the cache cannot record rolls back.

The cache here is django-redis pointed at a port nothing listens on (Redis
stopped), with the auth cache on as in production; credentials are issued
before it is switched in. The same behaviour on real processes, restarts
included: tests/e2e/test_faults.py.
"""

from __future__ import annotations

import json

import psycopg
import pytest
from django.db import OperationalError
from django.test import override_settings
from rest_framework.test import APIClient

from bouncer.core import exceptions
from bouncer.core.exceptions import ServiceUnavailable
from bouncer.tokens.jwt.models import JwtFamily
from bouncer.tokens.opaque.models import DeviceToken
from bouncer.users.models import UserSession
from tests.conftest import PASSWORD, session_client
from tests.e2e.conftest import free_port


def _redis_down(auth_cache_seconds: int = 300):
    return override_settings(
        CACHES={"default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }},
        BOUNCER_AUTH_CACHE_SECONDS=auth_cache_seconds,
    )


def _outage(response) -> None:
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0


@pytest.mark.django_db(transaction=True)
def test_jwt_logout_with_redis_down_answers_503_and_revokes_nothing(user):
    pair = APIClient().post("/api/token/", {"username": user.username, "password": PASSWORD}, format="json").json()
    with _redis_down():
        _outage(APIClient().post("/api/token/blacklist/", {"refresh": pair["refresh"]}, format="json"))
        reader = APIClient()
        reader.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
        assert reader.get("/api/accounts/profile/").status_code == 200  # read from the database
    assert JwtFamily.objects.get().revoked_at is None
    assert APIClient().post("/api/token/blacklist/", {"refresh": pair["refresh"]}, format="json").status_code == 200
    assert JwtFamily.objects.get().revoked_at is not None


@pytest.mark.django_db(transaction=True)
def test_token_logout_with_redis_down_answers_503_and_keeps_the_token(user):
    key = APIClient().post("/api/auth-token/", {"username": user.username, "password": PASSWORD, "device_name": "cli"},
                           format="json").json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    with _redis_down():
        _outage(client.post("/api/auth-token/logout/"))
        assert client.get("/api/accounts/profile/").status_code == 200
    assert DeviceToken.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_token_logout_with_redis_down_and_the_auth_cache_off_revokes(user):
    """No request reads cached auth entries then: nothing stale can be served, so the revocation stands."""
    key = APIClient().post("/api/auth-token/", {"username": user.username, "password": PASSWORD, "device_name": "cli"},
                           format="json").json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    with _redis_down(auth_cache_seconds=0):
        assert client.post("/api/auth-token/logout/").status_code == 204
        assert client.get("/api/accounts/profile/").status_code == 401
    assert DeviceToken.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_session_revocations_with_redis_down_answer_503_and_delete_nothing(user):
    client = session_client(user)
    other = session_client(user)
    with _redis_down():
        _outage(client.post("/api/accounts/sessions/revoke-others/"))
        _outage(client.post("/api/accounts/logout/"))
    assert UserSession.objects.count() == 2
    assert other.get("/api/accounts/profile/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_deactivation_with_redis_down_raises_and_is_rolled_back(user):
    APIClient().post("/api/token/", {"username": user.username, "password": PASSWORD}, format="json")
    with _redis_down():
        user.is_active = False
        with pytest.raises(ServiceUnavailable):
            user.save()
    user.refresh_from_db()
    assert user.is_active
    assert JwtFamily.objects.get().revoked_at is None


@pytest.mark.django_db(transaction=True)
def test_signin_with_redis_down_answers_503_even_for_a_wrong_password(user):
    with _redis_down():
        for password in (PASSWORD, "wrong-password"):
            _outage(APIClient().post("/api/token/", {"username": user.username, "password": password}, format="json"))
            _outage(APIClient().post("/api/accounts/login/", {"username": user.username, "password": password}, format="json"))


@pytest.mark.django_db
def test_signin_with_database_down_does_not_count_toward_the_lockout(user, monkeypatch, settings):
    """Found by the PostgreSQL restart test: attempts cut short by the outage locked the account."""
    settings.BOUNCER_LOCKOUT_ATTEMPTS = 2

    def down(*args, **kwargs):
        try:
            raise psycopg.OperationalError("connection refused")
        except psycopg.OperationalError as cause:
            raise OperationalError("connection refused") from cause

    with monkeypatch.context() as patch:
        patch.setattr("django.contrib.auth.backends.ModelBackend.authenticate", down)
        for _ in range(4):
            _outage(APIClient().post("/api/token/", {"username": user.username, "password": PASSWORD}, format="json"))
    assert APIClient().post("/api/token/", {"username": user.username, "password": PASSWORD}, format="json").status_code == 200


def test_outage_classification():
    def wrapped(cause):
        try:
            raise cause
        except Exception as inner:
            try:
                raise OperationalError(str(inner)) from inner
            except OperationalError as outer:
                return outer

    assert exceptions.dependency_failed(wrapped(psycopg.OperationalError("connection refused"))) == "database"
    assert exceptions.dependency_failed(wrapped(psycopg.errors.AdminShutdown("terminating connection"))) == "database"
    assert exceptions.dependency_failed(wrapped(psycopg.errors.DiskFull("disk full"))) is None
    assert exceptions.dependency_failed(OperationalError("disk full")) is None
    assert exceptions.dependency_failed(OperationalError("database is locked")) == "database"
    import redis

    assert exceptions.dependency_failed(redis.exceptions.ConnectionError("refused")) == "cache"
    assert exceptions.dependency_failed(ValueError("x")) is None


def _database_down_error() -> OperationalError:
    try:
        try:
            raise psycopg.OperationalError("connection refused")
        except psycopg.OperationalError as cause:
            raise OperationalError("connection refused") from cause
    except OperationalError as outer:
        return outer


def test_outage_raised_outside_a_view_answers_503_html_or_json_and_is_counted(rf, monkeypatch):
    """Django's 500 handler (an error in a middleware: the session save) gives an outage its 503."""
    from bouncer.core import handlers

    counted = []
    monkeypatch.setattr("bouncer.core.metrics.metrics_dependency_error", counted.append)
    for path, json_body in (("/accounts/login/", False), ("/api/accounts/profile/", True), ("/o/token/", True)):
        try:
            raise _database_down_error()
        except OperationalError:
            response = handlers.server_error(rf.get(path))
        assert response.status_code == 503, path
        assert int(response["Retry-After"]) > 0
        if json_body:
            body = json.loads(response.content)
            assert body.get("code") == "service_unavailable" or body.get("error") == "temporarily_unavailable", body
        else:
            assert b"Service unavailable" in response.content
    assert counted == ["database"] * 3
    try:
        raise OperationalError("disk full")  # a fault, not an outage: still a 500
    except OperationalError:
        assert handlers.server_error(rf.get("/api/accounts/profile/")).status_code == 500
