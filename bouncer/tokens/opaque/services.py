"""Issuing and revoking DRF tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from bouncer.audit.models import AuditAction
from bouncer.audit.services import audit_record
from bouncer.tokens.opaque.models import DeviceToken, token_digest, token_generate_key

#: Expired rows removed per issue, so the table stays bounded without a cron job.
PURGE_BATCH = 100


@dataclass(frozen=True)
class IssuedToken:
    key: str
    token: DeviceToken

    @property
    def expiry(self) -> datetime:
        return self.token.expires_at


def token_issue(*, user, request: HttpRequest | None, device_name: str = "") -> IssuedToken:
    """Mint a token for ``user``; a token for the same named device is replaced.

    Two sign-ins from one device at the same moment both delete the old token
    and insert a new one; the unique constraint lets one insert win and the
    other retries, so the device ends with exactly one token.
    """
    for attempt in range(3):
        try:
            token, key = _token_create(user=user, device_name=device_name)
            break
        except IntegrityError:
            if attempt == 2:
                raise
    audit_record(
        action=AuditAction.TOKEN_ISSUED,
        request=request,
        user=user,
        method="token",
        data={"token_id": token.pk, "device_name": device_name},
    )
    return IssuedToken(key=key, token=token)


def _token_create(*, user, device_name: str) -> tuple[DeviceToken, str]:
    now = timezone.now()
    key = token_generate_key()
    with transaction.atomic():
        if device_name:
            DeviceToken.objects.filter(user=user, device_name=device_name).delete()
        token = DeviceToken.objects.create(
            user=user,
            digest=token_digest(key),
            prefix=key[:8],
            device_name=device_name,
            created_at=now,
            expires_at=now + timedelta(hours=settings.BOUNCER_TOKEN_TTL_HOURS),
        )
        token_purge_expired(now=now)
    return token, key


def token_revoke(*, token: DeviceToken, request: HttpRequest | None, reason: str = "logout") -> None:
    token_id = token.pk
    DeviceToken.objects.filter(pk=token_id).delete()
    audit_record(
        action=AuditAction.TOKEN_REVOKED,
        request=request,
        user=token.user,
        method="token",
        data={"token_id": token_id, "reason": reason},
    )


def token_revoke_all_for_user(*, user, request: HttpRequest | None, keep: DeviceToken | None = None, reason: str) -> int:
    """Revoke every token of ``user`` except ``keep``; one audit row if any went."""
    tokens = DeviceToken.objects.filter(user=user)
    if keep is not None:
        tokens = tokens.exclude(pk=keep.pk)
    count, _ = tokens.delete()
    if count:
        audit_record(
            action=AuditAction.TOKEN_REVOKED,
            request=request,
            user=user,
            method="token",
            data={"count": count, "reason": reason},
        )
    return count


def token_purge_expired(*, now: datetime | None = None, batch: int = PURGE_BATCH) -> int:
    """Delete up to ``batch`` expired tokens (called on every issue)."""
    now = now or timezone.now()
    expired = list(DeviceToken.objects.filter(expires_at__lte=now).values_list("pk", flat=True)[:batch])
    if not expired:
        return 0
    count, _ = DeviceToken.objects.filter(pk__in=expired).delete()
    return count
