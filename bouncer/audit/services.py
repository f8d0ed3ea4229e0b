"""Writing audit events: one row and one JSON log line per event."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.core.http import client_ip
from bouncer.core.logging import scrub
from bouncer.core.metrics import audit_event_count
from bouncer.core.rows import row_insert

logger = logging.getLogger("bouncer.audit")

#: Rows older than the retention deleted per prune: a bounded statement, small
#: enough that the request that runs it barely waits (500 rows took ~5x longer).
PRUNE_BATCH = 100
#: About one stored event in this many runs a prune after its commit. Each
#: prune may remove PRUNE_BATCH rows, ten for every event written, so the
#: log shrinks back to its window however busy the server is, without a cron
#: job and with no extra round trip (not even a cache lock) on the other writes.
PRUNE_EVERY_N_EVENTS = 10


def audit_event(
    *,
    action: AuditAction,
    request: HttpRequest | None,
    user: Any = None,
    username: str = "",
    method: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """The unsaved row of one event (``audit_record`` stores and logs it).

    ``user`` may be None (failed login of an unknown name); ``username`` is
    then what was typed, truncated. ``data`` is scrubbed of secrets.
    """
    user_obj = user if getattr(user, "pk", None) else None
    return AuditEvent(
        action=AuditAction(action),
        created_at=timezone.now(),
        user=user_obj,
        username=(username or getattr(user_obj, "username", "") or "")[:150],
        method=method,
        ip_address=client_ip(request) if request is not None else None,
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:256] if request is not None else ""),
        data=scrub(data or {}),
    )


def audit_log(event: AuditEvent, request: HttpRequest | None = None) -> None:
    """The event's JSON log line and its metrics (bouncer/core/metrics.py), once its row is stored.

    Every path that stores an audit row ends here (``audit_record``; the JWT
    refresh's one-statement path, which inserts its row in its own SQL), so
    this is the one place security events are counted.
    """
    audit_event_count(event, request)
    logger.info(
        "audit %s",
        event.action,
        extra={
            "event": "audit",
            "action": event.action,
            "user_id": event.user_id,
            "username": event.username,
            "method": event.method,
            "ip": event.ip_address,
            "data": event.data,
        },
    )


def audit_record(
    *,
    action: AuditAction,
    request: HttpRequest | None,
    user: Any = None,
    username: str = "",
    method: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Store one audit event and log it as one JSON line."""
    event = row_insert(audit_event(action=action, request=request, user=user, username=username, method=method, data=data))
    audit_log(event, request)
    if secrets.randbelow(PRUNE_EVERY_N_EVENTS) == 0:
        # After the caller's transaction commits (at once outside one), never in
        # it: the caller's locks are not held while old rows go, and a failed
        # prune is logged, never the caller's error.
        transaction.on_commit(audit_prune, robust=True)
    return event


def audit_retention_cutoff(*, now: datetime | None = None, days: int | None = None) -> datetime | None:
    """Rows created before this are past the retention (``days``, else
    ``BOUNCER_AUDIT_RETENTION_DAYS``); None: keep every row (0)."""
    days = settings.BOUNCER_AUDIT_RETENTION_DAYS if days is None else days
    if not days:
        return None
    return (now or timezone.now()) - timedelta(days=days)


def audit_prune(*, now: datetime | None = None, batch: int | None = None, days: int | None = None) -> int:
    """Delete up to ``batch`` of the oldest rows past the retention; how many went.

    Bounded work: the ids come from the ``created_at`` index, oldest first, and
    one ``DELETE ... WHERE id IN (...)`` removes them. ``manage.py audit_prune``
    calls it until nothing is left, for operators who prefer a cron job.
    """
    cutoff = audit_retention_cutoff(now=now, days=days)
    if cutoff is None:
        return 0
    batch = PRUNE_BATCH if batch is None else batch
    old = list(AuditEvent.objects.filter(created_at__lt=cutoff).order_by("created_at").values_list("pk", flat=True)[:batch])
    if not old:
        return 0
    count, _ = AuditEvent.objects.filter(pk__in=old).delete()
    return count
