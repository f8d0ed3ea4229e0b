"""BOUNCER_AUDIT_RETENTION_DAYS: old audit rows go as Bouncer runs, a bounded batch at a time; audit_prune for cron."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bouncer.audit import services
from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.audit.services import audit_prune, audit_record
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def aged(user, *, days: float, count: int = 1) -> None:
    """``count`` rows written ``days`` ago (at that time, by the real service)."""
    with time_machine.travel(timezone.now() - timedelta(days=days), tick=False):
        for _ in range(count):
            audit_record(action=AuditAction.PROFILE_UPDATED, request=None, user=user, data={"days": days})


def ages() -> list[float]:
    return sorted(row["days"] for row in AuditEvent.objects.values_list("data", flat=True))


@override_settings(BOUNCER_AUDIT_RETENTION_DAYS=30)
def test_rows_past_the_retention_go_and_recent_ones_stay(user):
    aged(user, days=400)
    aged(user, days=31)
    aged(user, days=29.9)
    aged(user, days=1)
    assert audit_prune() == 2
    assert ages() == [1, 29.9]
    # A month later, the rows of then are past the window too.
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        assert audit_prune() == 2
    assert ages() == []


@override_settings(BOUNCER_AUDIT_RETENTION_DAYS=0)
def test_zero_keeps_every_row(user):
    aged(user, days=5000)
    aged(user, days=2)
    assert audit_prune() == 0
    out = StringIO()
    call_command("audit_prune", stdout=out)
    assert "nothing deleted" in out.getvalue()
    assert ages() == [2, 5000]


@override_settings(BOUNCER_AUDIT_RETENTION_DAYS=365)
def test_one_prune_is_a_bounded_batch_oldest_first(user):
    aged(user, days=800, count=3)
    aged(user, days=400, count=4)
    aged(user, days=10)
    with CaptureQueriesContext(connection) as queries:
        assert audit_prune(batch=5) == 5
    assert len(queries) == 2  # one indexed select of ids, one delete
    assert ages() == [10, 400, 400]  # the oldest went first
    assert audit_prune(batch=5) == 2
    assert audit_prune(batch=5) == 0
    assert ages() == [10]


@override_settings(BOUNCER_AUDIT_RETENTION_DAYS=365)
def test_writing_events_prunes_without_a_cron_job(user, monkeypatch, django_capture_on_commit_callbacks):
    aged(user, days=500, count=3)
    monkeypatch.setattr(services, "PRUNE_BATCH", 2)
    monkeypatch.setattr(services.secrets, "randbelow", lambda n: 0)  # this write is the one in N that prunes
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        audit_record(action=AuditAction.LOGOUT, request=None, user=user)
    assert len(callbacks) == 1  # after the commit, not inside the caller's transaction
    assert AuditEvent.objects.filter(created_at__lt=timezone.now() - timedelta(days=365)).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.LOGOUT).exists()


@override_settings(BOUNCER_AUDIT_RETENTION_DAYS=365)
def test_the_other_writes_run_no_prune(user, monkeypatch, django_capture_on_commit_callbacks):
    aged(user, days=500)
    monkeypatch.setattr(services.secrets, "randbelow", lambda n: 1)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        audit_record(action=AuditAction.LOGOUT, request=None, user=user)
    assert callbacks == []
    assert AuditEvent.objects.count() == 2


@override_settings(BOUNCER_AUDIT_RETENTION_DAYS=365)
def test_a_failing_prune_never_fails_the_request_that_triggered_it(user, api, monkeypatch, django_capture_on_commit_callbacks, caplog):
    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services.secrets, "randbelow", lambda n: 0)
    monkeypatch.setattr(services, "audit_prune", broken)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/auth-token/", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_ISSUED).exists()
    assert "database went away" in caplog.text


@override_settings(BOUNCER_AUDIT_RETENTION_DAYS=90)
def test_the_command_deletes_every_old_row_in_batches(user):
    aged(user, days=1000, count=7)
    aged(user, days=100, count=2)
    aged(user, days=3)
    out = StringIO()
    call_command("audit_prune", "--batch", "3", stdout=out)
    assert "9 audit row(s) older than 90 days" in out.getvalue()
    assert ages() == [3]


@override_settings(BOUNCER_AUDIT_RETENTION_DAYS=0)
def test_the_command_takes_its_own_retention(user):
    aged(user, days=40)
    aged(user, days=20)
    call_command("audit_prune", "--days", "30", stdout=StringIO())
    assert ages() == [20]


@pytest.mark.parametrize("args", [["--days", "0"], ["--days", "-5"], ["--batch", "0"], ["--batch", "1000000"]])
def test_the_command_refuses_bad_arguments_and_deletes_nothing(user, args):
    aged(user, days=4000)
    with pytest.raises(CommandError):
        call_command("audit_prune", *args, stdout=StringIO())
    assert ages() == [4000]
