"""Concurrent refreshes with one refresh token: the database picks exactly one winner.

Real threads, each with its own database connection, released together by a
barrier. Meaningful on PostgreSQL (CI runs the suite there); on SQLite the
writes serialize and the same outcome must hold.
"""

import threading

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.tokens.jwt.models import JwtFamily
from bouncer.tokens.jwt.services import JwtRejected, jwt_obtain, jwt_refresh
from tests.conftest import make_user

THREADS = 8


def race(raw: str) -> list:
    barrier = threading.Barrier(THREADS)
    outcomes = []
    lock = threading.Lock()

    def worker():
        try:
            barrier.wait(timeout=30)
            try:
                result = jwt_refresh(raw=raw, request=None)
            except JwtRejected as exc:
                result = exc.code
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == THREADS
    return outcomes


def grace(seconds):
    return override_settings(BOUNCER_JWT={**settings.BOUNCER_JWT, "REUSE_GRACE_SECONDS": seconds})


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_within_grace_all_succeed_with_exactly_one_rotation():
    user = make_user("alice")
    pair = jwt_obtain(user=user, request=None)
    with grace(10):
        outcomes = race(pair.refresh)
    assert all(not isinstance(o, str) for o in outcomes), outcomes
    refreshed = AuditEvent.objects.filter(action=AuditAction.TOKEN_REFRESHED)
    assert refreshed.filter(data__grace=False).count() == 1  # exactly one UPDATE won
    assert refreshed.filter(data__grace=True).count() == THREADS - 1
    assert JwtFamily.objects.get().revoked_at is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_without_grace_one_wins_and_the_replays_revoke_the_family():
    user = make_user("alice")
    pair = jwt_obtain(user=user, request=None)
    with grace(0):
        outcomes = race(pair.refresh)
    winners = [o for o in outcomes if not isinstance(o, str)]
    assert len(winners) <= 1
    assert all(o == "token_revoked" for o in outcomes if isinstance(o, str))
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_REFRESHED, data__grace=False).count() == len(winners) == 1
    assert JwtFamily.objects.get().revoke_reason == "reuse"
