"""Concurrent refreshes with one refresh token: the database picks exactly one winner.

Real threads, each with its own database connection, released together by a
barrier. Meaningful on PostgreSQL (CI runs the suite there); on SQLite the
writes serialize and the same outcome must hold.
"""

import json
from datetime import timedelta

import jwt as pyjwt
import pytest
import time_machine
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.tokens.jwt.models import JwtFamily, JwtRefreshToken
from bouncer.tokens.jwt.services import JwtRejected, jwt_obtain, jwt_refresh, jwt_verify
from tests.concurrency import at_once
from tests.conftest import make_user

THREADS = 8


def _refresh_or_code(raw: str):
    try:
        return jwt_refresh(raw=raw, request=None)
    except JwtRejected as exc:
        return exc.code


def race(raw: str) -> list:
    return at_once([lambda: _refresh_or_code(raw)] * THREADS)


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


def _refreshes_racing(raw: str, rival) -> list:
    """THREADS - 1 refreshes of ``raw`` and one call of ``rival``, released together."""

    def rival_or_code():
        try:
            return rival()
        except JwtRejected as exc:
            return exc.code

    return at_once([lambda: _refresh_or_code(raw)] * (THREADS - 1) + [rival_or_code])


def _nothing_survives(pairs) -> None:
    for pair in pairs:
        with pytest.raises(JwtRejected):
            jwt_verify(raw=pair.access)
        with pytest.raises(JwtRejected):
            jwt_refresh(raw=pair.refresh, request=None)


def _set_password(user):
    def rival():
        from bouncer.users.models import User

        fresh = User.objects.get(pk=user.pk)
        fresh.set_password("another-horse-battery-7")
        fresh.save()

    return rival


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seconds", [0, 10])
@pytest.mark.parametrize("rival_kind", ["logout", "password_set"])
def test_refreshes_racing_a_logout_or_a_password_change_mint_nothing_that_survives(seconds, rival_kind):
    from bouncer.tokens.jwt.services import jwt_logout

    user = make_user("alice")
    for _ in range(3):  # a few rounds: the interleavings differ from run to run
        user.refresh_from_db()  # the last round's rival changed the password: sign in as the user is now
        pair = jwt_obtain(user=user, request=None)
        rival = (lambda raw=pair.refresh: jwt_logout(raw=raw, request=None)) if rival_kind == "logout" else _set_password(user)
        with grace(seconds):
            outcomes = _refreshes_racing(pair.refresh, rival)
        minted = [o for o in outcomes if hasattr(o, "access")]
        assert all(o in (None, "token_revoked") for o in outcomes if not hasattr(o, "access")), outcomes
        assert JwtFamily.objects.get(pk=pair.family_id).revoked_at is not None
        _nothing_survives(minted)
        _nothing_survives([pair])
