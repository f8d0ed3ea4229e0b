"""/o/token/ chosen as a PostgreSQL deadlock's victim: run again, never a 500.

A refresh racing a revocation of its own family can deadlock on PostgreSQL
(seen under load in test_refresh_grace.py's race); PostgreSQL rolls the
victim back entirely, so the token endpoint runs the request again. The
deadlock is injected here so the rule is tested on every backend.
"""

from __future__ import annotations

import pytest
from django.db import OperationalError
from oauth2_provider import views as dot_views

from tests.conftest import make_user
from tests.oauth.conftest import make_app, password_grant

pytestmark = pytest.mark.django_db


class _Deadlock(Exception):
    sqlstate = "40P01"


def _deadlock() -> OperationalError:
    exc = OperationalError("deadlock detected")
    exc.__cause__ = _Deadlock()
    return exc


def _failing(monkeypatch, times: int, error=_deadlock):
    real = dot_views.TokenView.post
    calls = {"n": 0}

    def post(self, request, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= times:
            raise error()
        return real(self, request, *args, **kwargs)

    monkeypatch.setattr(dot_views.TokenView, "post", post)
    return calls


def test_token_request_chosen_as_deadlock_victim_is_run_again_and_succeeds(monkeypatch):
    user, app = make_user("alice"), make_app("password")
    calls = _failing(monkeypatch, times=1)

    response = password_grant(app, user)

    assert response.status_code == 200, response.content
    assert response.json()["access_token"]
    assert calls["n"] == 2


def test_token_request_deadlocked_every_time_answers_503_json_not_500(monkeypatch):
    user, app = make_user("alice"), make_app("password")
    _failing(monkeypatch, times=99)

    response = password_grant(app, user)

    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"


def test_other_database_errors_are_not_retried(monkeypatch):
    user, app = make_user("alice"), make_app("password")
    calls = _failing(monkeypatch, times=99, error=lambda: OperationalError("disk full"))

    response = password_grant(app, user)

    assert response.status_code == 500  # the JSON 500 of core/middleware.py: a real fault, not hidden
    assert calls["n"] == 1
