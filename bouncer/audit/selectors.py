"""Reading the audit log: a user's own events, and what each one means for them."""

from __future__ import annotations

from django.db.models import QuerySet

from bouncer.audit.models import AuditAction, AuditEvent

SUCCESS, FAILURE, ALERT = "success", "failure", "alert"

#: Refused attempts on the account (someone else's, or a typo).
_FAILURES = frozenset({
    AuditAction.LOGIN_FAILED, AuditAction.MFA_FAILED, AuditAction.CLIENT_AUTH_FAILED, AuditAction.MFA_MISSING,
})
#: What Bouncer did to protect the account: worth a look.
_ALERTS = frozenset({AuditAction.ACCOUNT_LOCKED, AuditAction.TOKEN_REUSE_DETECTED, AuditAction.CODE_REPLAYED})


def audit_outcome(action: str) -> str:
    """``success``, ``failure`` (a refused attempt) or ``alert`` (Bouncer revoked or locked something)."""
    if action in _ALERTS:
        return ALERT
    if action in _FAILURES:
        return FAILURE
    return SUCCESS


def audit_event_list_for_user(*, user) -> QuerySet[AuditEvent]:
    """The events of ``user`` only, newest first (the ``audit_user_recent`` index).

    Only the columns shown: ``data`` is read for the device and client names
    alone; ``username`` (what was typed at a failed sign-in) never leaves.
    """
    return (
        AuditEvent.objects.filter(user_id=user.pk)
        .only("id", "action", "created_at", "method", "ip_address", "user_agent", "data")
        .order_by("-created_at", "-id")
    )
