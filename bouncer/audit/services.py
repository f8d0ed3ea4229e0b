"""Writing audit events: one row and one JSON log line per event."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.core.http import client_ip
from bouncer.core.logging import scrub
from bouncer.core.metrics import audit_event_count
from bouncer.core.rows import row_insert

logger = logging.getLogger("bouncer.audit")


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
    return event
