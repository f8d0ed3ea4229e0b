"""The refresh grace period with tokens stored hashed (bouncer/oauth/grace.py).

A rotated refresh token presented again within the grace period gets the pair
of the first rotation back from an encrypted cache entry; after it, reuse
revokes the family. Runs on SQLite with the in-process cache and on PostgreSQL
with Redis (DATABASE_URL, REDIS_URL).
"""

import hashlib
import threading
from datetime import timedelta
from unittest.mock import patch

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone
from oauth2_provider.models import AccessToken, RefreshToken

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.oauth.grace import GraceAnswer, grace_answer_recall, grace_answer_remember, grace_cache_key
from bouncer.oauth.validators import BouncerOAuth2Validator
from tests.concurrency import at_once
from tests.conftest import make_user
from tests.oauth.conftest import TOKEN_URL, bearer, make_app, password_tokens

pytestmark = pytest.mark.django_db

GRACE = settings.OAUTH2_PROVIDER["REFRESH_TOKEN_GRACE_PERIOD_SECONDS"]


def refresh(app, refresh_token: str):
    return Client().post(TOKEN_URL, {"grant_type": "refresh_token", "refresh_token": refresh_token},
                         HTTP_AUTHORIZATION=app.basic())


def rotated(app, refresh_token: str) -> dict:
    response = refresh(app, refresh_token)
    assert response.status_code == 200, response.content
    return response.json()


def assert_refused_without_tokens(response):
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json" and response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["error"] == "invalid_grant"
    assert "access_token" not in body and "refresh_token" not in body


def raw_cache_value(key: str) -> bytes:
    """The entry as the cache backend holds it (Redis: the stored bytes)."""
    if settings.CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache":
        from django_redis import get_redis_connection

        raw = get_redis_connection("default").get(cache.make_key(key))
        assert raw is not None
        return raw
    value = cache.get(key)
    assert isinstance(value, bytes)
    return value


def test_grace_is_on_by_default_with_hashed_storage():
    assert GRACE == 10
    assert settings.OAUTH2_PROVIDER["COMPLIANT_BCP_RFC9700_TOKEN_STORAGE"] is True
    assert settings.OAUTH2_PROVIDER["REFRESH_TOKEN_REUSE_PROTECTION"] is True


# --- within the grace period: the same pair, twice -------------------------------------


def test_refresh_replayed_within_grace_returns_the_same_working_pair(user, password_app):
    first = password_tokens(password_app, user, scope="read")
    second = rotated(password_app, first["refresh_token"])
    with time_machine.travel(timezone.now() + timedelta(seconds=GRACE - 1)):
        again = rotated(password_app, first["refresh_token"])  # the other tab
        assert again["access_token"] and again["refresh_token"]
        assert (again["access_token"], again["refresh_token"], again["scope"]) == (
            second["access_token"], second["refresh_token"], second["scope"],
        )
        assert bearer(again["access_token"]).get("/api/accounts/profile/").status_code == 200
        assert bearer(first["access_token"]).get("/api/accounts/profile/").status_code == 401
    # One rotation happened, not two, and the family goes on.
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 1
    third = rotated(password_app, again["refresh_token"])
    assert bearer(third["access_token"]).get("/api/accounts/profile/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_within_grace_all_get_the_one_rotated_pair():
    user = make_user("alice")
    app = make_app("password")
    first = password_tokens(app, user, scope="read")
    threads_count = 4
    answers = _race(app, first["refresh_token"], threads_count)
    assert [status for status, _ in answers] == [200] * threads_count, answers
    pairs = {(body["access_token"], body["refresh_token"]) for _, body in answers}
    assert len(pairs) == 1 and all(all(pair) for pair in pairs)
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 1
    assert bearer(pairs.pop()[0]).get("/api/accounts/profile/").status_code == 200


# --- after the grace period, or two generations back: reuse --------------------------


def test_refresh_replayed_after_grace_revokes_the_family(user, password_app):
    first = password_tokens(password_app, user, scope="read")
    second = rotated(password_app, first["refresh_token"])
    with time_machine.travel(timezone.now() + timedelta(seconds=GRACE + 1)):
        assert_refused_without_tokens(refresh(password_app, first["refresh_token"]))
        assert AuditEvent.objects.filter(action=AuditAction.TOKEN_REUSE_DETECTED, user=user).count() == 1
        assert bearer(second["access_token"]).get("/api/accounts/profile/").status_code == 401
        assert_refused_without_tokens(refresh(password_app, second["refresh_token"]))
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
    assert not AccessToken.objects.exists()


def test_refresh_replayed_within_grace_after_a_newer_rotation_revokes_the_family(user, password_app):
    first = password_tokens(password_app, user, scope="read")
    second = rotated(password_app, first["refresh_token"])
    newest = rotated(password_app, second["refresh_token"])
    # Within the grace of the first rotation, but it is two generations back.
    assert_refused_without_tokens(refresh(password_app, first["refresh_token"]))
    assert bearer(newest["access_token"]).get("/api/accounts/profile/").status_code == 401
    assert_refused_without_tokens(refresh(password_app, newest["refresh_token"]))
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


def test_refresh_replayed_without_grace_revokes_the_family_and_remembers_nothing(user, password_app):
    with override_settings(OAUTH2_PROVIDER={**settings.OAUTH2_PROVIDER, "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0}):
        first = password_tokens(password_app, user, scope="read")
        second = rotated(password_app, first["refresh_token"])
        assert cache.get(grace_cache_key(refresh_token=first["refresh_token"])) is None
        assert_refused_without_tokens(refresh(password_app, first["refresh_token"]))
        assert bearer(second["access_token"]).get("/api/accounts/profile/").status_code == 401


# --- nothing usable at rest ----------------------------------------------------------


def test_tokens_are_stored_hashed_and_the_grace_entry_is_sealed(user, password_app):
    first = password_tokens(password_app, user, scope="read")
    second = rotated(password_app, first["refresh_token"])
    raw_tokens = [first["access_token"], first["refresh_token"], second["access_token"], second["refresh_token"]]
    rows = [*AccessToken.objects.all(), *RefreshToken.objects.all()]
    assert len(rows) == 3  # second's access token, first's (revoked) and second's refresh tokens
    for row in rows:
        assert row.token == ""
        assert row.token_checksum not in raw_tokens
    assert {row.token_checksum for row in rows} <= {hashlib.sha256(t.encode()).hexdigest() for t in raw_tokens}

    key = grace_cache_key(refresh_token=first["refresh_token"])
    assert key == "oauth:grace:" + hashlib.sha256(first["refresh_token"].encode()).hexdigest()
    sealed = raw_cache_value(key)
    for token in raw_tokens:
        assert token.encode() not in sealed
    assert b"read" not in sealed  # the scope is sealed too


# --- the entry cannot be had: refused, never blank ----------------------------------


def _overwrite_with_entry_of_another_family(entry_key: str, password_app):
    other = password_tokens(password_app, make_user("mallory"), scope="read")
    rotated(password_app, other["refresh_token"])
    cache.set(entry_key, cache.get(grace_cache_key(refresh_token=other["refresh_token"])), timeout=GRACE)


def _overwrite_with_a_pair_that_is_not_the_live_one(entry_key: str, password_app, refresh_token: str):
    grace_answer_remember(
        refresh_token=refresh_token,
        answer=GraceAnswer(access_token="not-the-issued-access", refresh_token="not-the-issued-refresh", scope="read"),
        seconds=GRACE,
    )


@pytest.mark.parametrize("entry", ["cleared", "expired", "garbage", "another_family", "not_the_live_pair"])
def test_refresh_replayed_within_grace_without_its_entry_is_refused_and_the_family_lives(user, password_app, entry):
    first = password_tokens(password_app, user, scope="read")
    second = rotated(password_app, first["refresh_token"])
    key = grace_cache_key(refresh_token=first["refresh_token"])
    if entry == "cleared":
        cache.clear()
    elif entry == "expired":
        cache.set(key, cache.get(key), timeout=0)  # a timeout of 0 expires it at once
    elif entry == "garbage":
        cache.set(key, b"\x00" * 64, timeout=GRACE)
    elif entry == "another_family":
        _overwrite_with_entry_of_another_family(key, password_app)
    else:
        _overwrite_with_a_pair_that_is_not_the_live_one(key, password_app, first["refresh_token"])

    assert_refused_without_tokens(refresh(password_app, first["refresh_token"]))
    # Refused, but not as reuse: the legitimate client carries on.
    assert bearer(second["access_token"]).get("/api/accounts/profile/").status_code == 200
    assert RefreshToken.objects.filter(user=user, revoked__isnull=True).count() == 1
    rotated(password_app, second["refresh_token"])


def test_an_entry_opens_with_its_own_refresh_token_only(user, password_app):
    mine = password_tokens(password_app, user, scope="read")
    theirs = password_tokens(password_app, make_user("bob"), scope="read")
    rotated(password_app, mine["refresh_token"])
    rotated(password_app, theirs["refresh_token"])
    assert grace_answer_recall(refresh_token=mine["refresh_token"]) is not None
    # The same sealed bytes under the other's key: the wrong key opens nothing.
    cache.set(grace_cache_key(refresh_token=theirs["refresh_token"]),
              cache.get(grace_cache_key(refresh_token=mine["refresh_token"])), timeout=GRACE)
    assert grace_answer_recall(refresh_token=theirs["refresh_token"]) is None
    assert grace_answer_recall(refresh_token="x" * 30) is None


# --- concurrency: one refresh token, one successor ----------------------------------


def _race(app, refresh_token: str, threads_count: int) -> list[tuple[int, dict]]:
    def tab():
        response = refresh(app, refresh_token)
        return response.status_code, response.json()

    return at_once([tab] * threads_count)


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_without_grace_yield_one_successor_and_the_replays_revoke_it():
    """Grace 0: every loser is a replay after the window, so the family dies, the
    one winner's pair with it; never a second pair that outlives the revocation."""
    user = make_user("alice")
    app = make_app("password")
    first = password_tokens(app, user, scope="read")
    with override_settings(OAUTH2_PROVIDER={**settings.OAUTH2_PROVIDER, "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0}):
        answers = _race(app, first["refresh_token"], 6)
        winners = [body for status, body in answers if status == 200]
        # One rotation; its answer may itself be refused when a replay revoked the
        # pair before the answer left (test_a_rotation_revoked_by_a_replay_...).
        assert len(winners) <= 1, answers
        assert all(status == 400 and body["error"] == "invalid_grant" for status, body in answers if status != 200), answers
        assert RefreshToken.objects.filter(user=user).count() == 2  # the presented one and one successor
        for winner in winners:
            assert bearer(winner["access_token"]).get("/api/accounts/profile/").status_code == 401
            assert_refused_without_tokens(refresh(app, winner["refresh_token"]))
    assert not AccessToken.objects.filter(user=user).exists()
    assert not RefreshToken.objects.filter(user=user, revoked__isnull=True, access_token__isnull=False).exists()
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_REUSE_DETECTED, user=user).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_within_grace_make_one_successor_and_a_later_replay_revokes_it():
    user = make_user("alice")
    app = make_app("password")
    first = password_tokens(app, user, scope="read")
    answers = _race(app, first["refresh_token"], 6)
    assert [status for status, _ in answers] == [200] * 6, answers
    assert len({(body["access_token"], body["refresh_token"]) for _, body in answers}) == 1
    assert RefreshToken.objects.filter(user=user).count() == 2  # one successor row, not six
    assert AccessToken.objects.filter(user=user).count() == 1
    successor = answers[0][1]
    with time_machine.travel(timezone.now() + timedelta(seconds=GRACE + 1)):
        assert_refused_without_tokens(refresh(app, first["refresh_token"]))
        assert bearer(successor["access_token"]).get("/api/accounts/profile/").status_code == 401
        assert_refused_without_tokens(refresh(app, successor["refresh_token"]))
    assert not AccessToken.objects.filter(user=user).exists()


@pytest.mark.parametrize("grace_seconds", [0, GRACE])
def test_a_refresh_validated_before_a_rotation_and_a_reuse_revocation_mints_nothing(user, password_app, grace_seconds):
    """The interleaving behind two winners, made deterministic: tab A's refresh token is
    validated, then tab B rotates it and a replay revokes the family, then A stores its pair."""
    first = password_tokens(password_app, user, scope="read")
    original = BouncerOAuth2Validator.validate_refresh_token
    others, overtaken = [], []

    def validated_then_overtaken(self, refresh_token, client, request, *args, **kwargs):
        valid = original(self, refresh_token, client, request, *args, **kwargs)
        if not overtaken:
            overtaken.append(True)
            others.append(rotated(password_app, first["refresh_token"]))  # tab B wins
            with time_machine.travel(timezone.now() + timedelta(seconds=GRACE + 1)):
                assert_refused_without_tokens(refresh(password_app, first["refresh_token"]))  # reuse
        return valid

    conf = {**settings.OAUTH2_PROVIDER, "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": grace_seconds}
    with override_settings(OAUTH2_PROVIDER=conf), patch.object(
        BouncerOAuth2Validator, "validate_refresh_token", validated_then_overtaken
    ):
        assert_refused_without_tokens(refresh(password_app, first["refresh_token"]))  # tab A
    assert bearer(others[0]["access_token"]).get("/api/accounts/profile/").status_code == 401
    assert not AccessToken.objects.filter(user=user).exists()
    assert RefreshToken.objects.filter(user=user).count() == 2


def test_a_rotation_revoked_by_a_replay_before_its_answer_is_refused_not_500(user, password_app):
    """The toolkit reads the issued access token back after its transaction commits; a
    replay revoking the family in between (grace 0: at once) deleted it, and that read
    answered 500. The pair is dead: the answer says so."""
    first = password_tokens(password_app, user, scope="read")
    original = BouncerOAuth2Validator.save_bearer_token
    replayed = []

    def committed_then_replayed(self, token, request, *args, **kwargs):
        result = original(self, token, request, *args, **kwargs)
        if request.grant_type == "refresh_token" and not replayed:
            replayed.append(True)
            assert_refused_without_tokens(refresh(password_app, first["refresh_token"]))
        return result

    conf = {**settings.OAUTH2_PROVIDER, "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0}
    with override_settings(OAUTH2_PROVIDER=conf), patch.object(
        BouncerOAuth2Validator, "save_bearer_token", committed_then_replayed
    ):
        assert_refused_without_tokens(refresh(password_app, first["refresh_token"]))
    assert replayed and not AccessToken.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_REUSE_DETECTED, user=user).count() == 1


# --- refreshes racing a lifecycle event (meaningful on PostgreSQL) --------------------------


def _lifecycle_event(kind: str, user_id: int):
    from bouncer.core.credentials import credential_revoke_all
    from bouncer.users.models import User

    def event():
        user = User.objects.get(pk=user_id)
        if kind == "password_set":
            user.set_password("another-horse-battery-7")
            user.save()
        elif kind == "deactivation":
            user.is_active = False
            user.save()
        else:
            credential_revoke_all(user=user, request=None, reason="signed_out_everywhere")

    return event


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("grace_seconds", [0, GRACE])
@pytest.mark.parametrize("kind", ["password_set", "deactivation", "sign_out_everywhere"])
def test_refreshes_racing_a_lifecycle_event_are_4xx_never_500_and_nothing_they_mint_survives(kind, grace_seconds):
    """Five tabs refresh one token while the account's credentials are revoked.

    On PostgreSQL the revocation used to lock access rows before refresh rows
    (Django's collector clearing ``source_refresh_token``) and the losers'
    family revocations took the family's rows in any order: deadlocks, so 500s
    on /o/token/ and sometimes the password change or deactivation itself
    failing; and a loser within the grace whose rows were deleted meanwhile
    met the toolkit's ``RefreshToken.DoesNotExist``: another 500.
    """
    from tests.conftest import PASSWORD

    user = make_user("alice")
    app = make_app("password")
    with override_settings(OAUTH2_PROVIDER={**settings.OAUTH2_PROVIDER, "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": grace_seconds}):
        for _ in range(3):  # the interleavings differ from round to round
            user.refresh_from_db()
            user.is_active = True
            user.set_password(PASSWORD)
            user.save()
            first = password_tokens(app, user, scope="read")
            barrier, answers, failures, lock = threading.Barrier(6), [], [], threading.Lock()
            event = _lifecycle_event(kind, user.pk)

            def run(task, record):
                try:
                    barrier.wait(timeout=30)
                    result = task()
                except Exception as exc:  # noqa: BLE001 - the event must not fail: recorded, asserted below
                    result = exc
                    with lock:
                        failures.append(exc)
                finally:
                    connection.close()
                if record and not isinstance(result, Exception):
                    with lock:
                        answers.append((result.status_code, result.json()))

            tasks = [(event, False)] + [(lambda: refresh(app, first["refresh_token"]), True)] * 5
            threads = [threading.Thread(target=run, args=task) for task in tasks]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert failures == []
            assert len(answers) == 5
            assert all(status == 200 or (status == 400 and body["error"] == "invalid_grant") for status, body in answers), answers
            for status, body in answers:
                if status == 200:
                    assert bearer(body["access_token"]).get("/api/accounts/profile/").status_code == 401
                    assert_refused_without_tokens(refresh(app, body["refresh_token"]))


@pytest.mark.parametrize("param", ["bouncer_refresh_reused", "bouncer_issued", "refresh_token_instance"])
def test_a_parameter_named_like_bouncers_own_request_attributes_changes_nothing(user, password_app, param):
    """oauthlib answers an attribute its request lacks from the request's parameters; one the client
    names after an attribute the validator sets must not be read in its place (a 500 before)."""
    first = password_tokens(password_app, user, scope="read")
    rotated(password_app, first["refresh_token"])
    cache.clear()  # within the grace, without its entry: refused, the family lives
    answer = Client().post(
        TOKEN_URL, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], param: "x"},
        HTTP_AUTHORIZATION=password_app.basic(),
    )
    assert_refused_without_tokens(answer)
    assert RefreshToken.objects.filter(user=user, revoked__isnull=True).count() == 1
