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
from bouncer.core import assurance, credentials
from bouncer.core.http import client_ip
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


def token_issue(*, user, request: HttpRequest | None, device_name: str = "", amr=(assurance.PWD,)) -> IssuedToken:
    """Mint a token for ``user``; a token for the same named device is replaced.

    The row records how the user signed in (``amr``), and so does the cached
    copy of it: what ``MfaVerified`` reads costs no query.

    Two sign-ins from one device at the same moment both delete the old token
    and insert a new one; the unique constraint lets one insert win and the
    other retries, so the device ends with exactly one token.
    """
    for attempt in range(3):
        try:
            token, key = _token_create(
                user=user, device_name=device_name, ip_address=client_ip(request) if request is not None else None,
                amr=assurance.amr_stored(assurance.amr_or_password(amr)),
            )
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


def _token_create(*, user, device_name: str, ip_address: str | None, amr: str) -> tuple[DeviceToken, str]:
    now = timezone.now()
    key = token_generate_key()
    with transaction.atomic():
        credentials.credential_issue_guard(user=user)
        if device_name:
            DeviceToken.objects.filter(user=user, device_name=device_name).delete()
        token = DeviceToken.objects.create(
            user=user,
            digest=token_digest(key),
            prefix=key[:8],
            device_name=device_name,
            created_at=now,
            expires_at=now + timedelta(hours=settings.BOUNCER_TOKEN_TTL_HOURS),
            ip_address=ip_address,
            last_used_at=now,
            amr=amr,
        )
        token_purge_expired(now=now)
    return token, key


def token_revoke(*, token: DeviceToken, request: HttpRequest | None, reason: str = "logout") -> bool:
    """Delete the token; whether this call did (a concurrent revocation may have won:
    then no second audit row)."""
    token_id = token.pk
    count, _ = DeviceToken.objects.filter(pk=token_id).delete()
    if not count:
        return False
    audit_record(
        action=AuditAction.TOKEN_REVOKED,
        request=request,
        user=token.user,
        method="token",
        data={"token_id": token_id, "reason": reason},
    )
    return True


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


class TokenCredentials:
    """DRF device tokens in the credential registry (bouncer.core.credentials)."""

    name = "token"

    def list_for_user(self, *, user) -> list[credentials.Credential]:
        rows = DeviceToken.objects.filter(user=user, expires_at__gt=timezone.now()).values_list(
            "pk", "device_name", "ip_address", "created_at", "last_used_at", "amr"
        )
        return [
            credentials.Credential(
                kind=self.name, key=str(pk), device=device or "unnamed device", address=address or "",
                created_at=created, last_used_at=used, amr=assurance.amr_or_password(amr),
            )
            for pk, device, address, created, used, amr in rows
        ]

    def current_key(self, *, request) -> str | None:
        auth = getattr(request, "auth", None)
        return str(auth.pk) if isinstance(auth, DeviceToken) else None

    def current_amr(self, *, request) -> tuple[str, ...] | None:
        # The token row the authentication class read (from the cache entry): no query.
        auth = getattr(request, "auth", None)
        return assurance.amr_or_password(auth.amr) if isinstance(auth, DeviceToken) else None

    def revoke(self, *, user, key: str, request: HttpRequest | None, reason: str) -> bool:
        token = DeviceToken.objects.filter(user=user, pk=key).first()
        if token is None:
            return False
        token.user = user  # for the audit row, without another query
        return token_revoke(token=token, request=request, reason=reason)

    def revoke_all(self, *, user, request: HttpRequest | None, reason: str, keep: str | None = None) -> int:
        kept = DeviceToken(pk=int(keep)) if keep is not None else None
        return token_revoke_all_for_user(user=user, request=request, keep=kept, reason=reason)
