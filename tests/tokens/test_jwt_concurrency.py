"""Concurrent refreshes with one refresh token: the database picks exactly one winner.

Real threads, each with its own database connection, released together by a
barrier. Meaningful on PostgreSQL (CI runs the suite there); on SQLite the
writes serialize and the same outcome must hold.
"""

import json
import threading
from datetime import timedelta

import jwt as pyjwt
import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.tokens.jwt.models import JwtFamily, JwtRefreshToken
from bouncer.tokens.jwt.services import JwtRejected, jwt_obtain, jwt_refresh, jwt_verify
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


def claims_of(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def grace(seconds):
    return override_settings(BOUNCER_JWT={**settings.BOUNCER_JWT, "REUSE_GRACE_SECONDS": seconds})


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_within_grace_all_get_the_one_successor():
    user = make_user("alice")
    pair = jwt_obtain(user=user, request=None)
    with grace(10):
        outcomes = race(pair.refresh)
    assert all(not isinstance(o, str) for o in outcomes), outcomes
    successors = {claims_of(o.refresh)["jti"] for o in outcomes}
    assert len(successors) == 1  # every answer carries the same successor
    assert len({json.dumps(claims_of(o.access), sort_keys=True) for o in outcomes}) == 1
    family = JwtFamily.objects.get()
    assert JwtRefreshToken.objects.filter(family=family).count() == 2  # exactly one successor row
    assert str(JwtRefreshToken.objects.get(family=family, used_at__isnull=True).jti) == successors.pop()
    refreshed = AuditEvent.objects.filter(action=AuditAction.TOKEN_REFRESHED)
    assert refreshed.filter(data__grace=False).count() == 1  # exactly one UPDATE won
    assert refreshed.filter(data__grace=True).count() == THREADS - 1
    assert family.revoked_at is None
    # The successor works; the original, replayed after the window, revokes the sign-in.
    newest = jwt_refresh(raw=outcomes[0].refresh, request=None)
    with time_machine.travel(timezone.now() + timedelta(seconds=11)):
        with pytest.raises(JwtRejected):
            jwt_refresh(raw=pair.refresh, request=None)
    family.refresh_from_db()
    assert family.revoke_reason == "reuse"
    with pytest.raises(JwtRejected):
        jwt_verify(raw=newest.access)


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
