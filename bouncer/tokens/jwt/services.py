"""JWT sign-in, refresh rotation with reuse detection, and revocation."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from bouncer.audit.models import AuditAction
from bouncer.audit.services import audit_event, audit_log, audit_record
from bouncer.core import assurance, credentials, metrics
from bouncer.core.exceptions import DomainError, error_body
from bouncer.core.http import client_ip
from bouncer.tokens.jwt.codec import ACCESS, REFRESH, InvalidJwt, jwt_decode, jwt_encode, uuid7
from bouncer.tokens.jwt.models import JwtFamily, JwtRefreshToken
from bouncer.tokens.jwt.rows import (
    refresh_commit_without_flush,
    refresh_rotate_at_once,
    refresh_row_insert,
    refresh_row_retire,
)
from bouncer.tokens.jwt.state import REVOKED, family_principal, family_state_invalidate
from bouncer.users.models import User

#: Expired rows removed per sign-in, so the tables stay bounded without a cron job.
PURGE_BATCH = 200
PURGE_EVERY_N_REFRESHES = 50
FAMILY_EXPIRY_SLACK = timedelta(days=1)


class JwtRejected(DomainError):
    """401 with a stable code: token_invalid, token_expired, token_revoked, token_wrong_type ..."""

    status_code = 401

    def __init__(self, code: str, message: str, *, reuse: bool = False) -> None:
        super().__init__(error_body(message, code))
        self.code = code
        #: A replayed refresh token (its sign-in revoked), not merely an invalid one.
        self.reuse = reuse


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    access_expires: datetime
    refresh_expires: datetime
    family_id: uuid.UUID


def _claims(user: User, family_id, amr: tuple[str, ...]) -> dict:
    return {
        "sub": str(user.pk), "fam": str(family_id), "username": user.username, "email": user.email, "is_staff": user.is_staff,
        "amr": list(amr), "acr": assurance.acr_for(amr),
    }


def _token_amr(claims: dict) -> tuple[str, ...]:
    """The amr a refresh token carries (signed, like ``fexp``), for its successor.

    A rotation copies it, never widens it: the refresh endpoint takes no other
    input, so the only way to a stronger amr is a new sign-in. Tokens issued
    before the claim existed were password sign-ins (``assurance.amr_or_password``).
    """
    return claim_amr(claims)


def claim_amr(claims: dict) -> tuple[str, ...]:
    """A verified token's ``amr``: a JSON array (RFC 8176) of known values; anything else proves a password only."""
    value = claims.get("amr")
    return assurance.amr_or_password(value if isinstance(value, list) else None)


def _next_family_expiry(*, known: datetime | None, refresh_expires: datetime) -> datetime:
    """The ``fexp`` a refresh token expiring at ``refresh_expires`` carries: a pure function
    of what its predecessor carried, so a grace replay signs the very value the rotation did."""
    if known is not None and known >= refresh_expires:
        return known
    return refresh_expires + FAMILY_EXPIRY_SLACK


def _family_expiry(*, family_id: uuid.UUID, known: datetime | None, refresh_expires: datetime) -> datetime:
    """The family expiry the next refresh token carries as ``fexp``, moved forward in the database.

    ``known`` is what the caller knows of it (None: nothing). The refresh
    token carries it, so a rotation knows it without reading the family row;
    it is moved forward by a write at most once a day (FAMILY_EXPIRY_SLACK),
    and only ever forward, so it never falls short of the expiry of the
    family's newest refresh token.
    """
    value = _next_family_expiry(known=known, refresh_expires=refresh_expires)
    if value != known:
        JwtFamily.objects.filter(pk=family_id, expires_at__lt=value).update(expires_at=value)
    return value


def _access_jti(refresh_jti: uuid.UUID) -> uuid.UUID:
    """The access token's id, derived from its refresh token's: a pair signed again for a
    grace replay carries the very claims of the pair first issued (ids are not secrets)."""
    return uuid.uuid5(refresh_jti, "access")


def _sign_pair(
    *, user: User, family_id: uuid.UUID, family_expires: datetime, now: datetime, refresh_jti: uuid.UUID, amr: tuple[str, ...]
) -> TokenPair:
    """Sign a pair; a pure function of its arguments and the settings, but for the signature bytes
    (ES256 signatures are randomized: signing twice gives two equivalent tokens)."""
    conf = settings.BOUNCER_JWT
    access_life, refresh_life = conf["ACCESS_LIFETIME_SECONDS"], conf["REFRESH_LIFETIME_SECONDS"]
    access, _ = jwt_encode(
        claims=_claims(user, family_id, amr), token_type=ACCESS, issued_at=now, lifetime=access_life, jti=_access_jti(refresh_jti)
    )
    refresh, _ = jwt_encode(
        claims={"sub": str(user.pk), "fam": str(family_id), "fexp": int(family_expires.timestamp()), "amr": list(amr)},
        token_type=REFRESH, issued_at=now, lifetime=refresh_life, jti=refresh_jti,
    )
    return TokenPair(access, refresh, now + timedelta(seconds=access_life), now + timedelta(seconds=refresh_life), family_id)


def _mint(
    *, user: User, family_id: uuid.UUID, family_expires: datetime | None, now: datetime, amr: tuple[str, ...], jti: uuid.UUID | None = None
) -> TokenPair:
    """Sign a new pair and store the refresh token's id (``jti``: chosen by the caller, else new)."""
    refresh_expires = now + timedelta(seconds=settings.BOUNCER_JWT["REFRESH_LIFETIME_SECONDS"])
    family_expires = _family_expiry(family_id=family_id, known=family_expires, refresh_expires=refresh_expires)
    jti = jti or uuid7()
    refresh_row_insert(jti=jti, family_id=family_id, issued_at=now, expires_at=refresh_expires)
    return _sign_pair(user=user, family_id=family_id, family_expires=family_expires, now=now, refresh_jti=jti, amr=amr)


def jwt_obtain(*, user: User, request: HttpRequest | None, amr=(assurance.PWD,)) -> TokenPair:
    """A new sign-in: a new family and its first pair, carrying how the user signed in (``amr``).

    The access token gets ``amr`` and ``acr`` claims, the refresh token
    ``amr``, which every rotation copies into the successor; the family row
    keeps it for the list of sessions and devices.
    """
    amr = assurance.amr_or_password(amr)
    now = timezone.now()
    with transaction.atomic():  # one commit: family, refresh row, audit row
        credentials.credential_issue_guard(user=user)
        family = JwtFamily.objects.create(
            user=user, created_at=now, expires_at=now, last_used_at=now,
            ip_address=client_ip(request) if request is not None else None,
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:256] if request is not None else "",
            amr=assurance.amr_stored(amr),
        )
        pair = _mint(user=user, family_id=family.pk, family_expires=None, now=now, amr=amr)
        audit_record(action=AuditAction.TOKEN_ISSUED, request=request, user=user, method="jwt", data={"family": str(family.pk)})
    jwt_purge_expired(now=now)
    return pair


#: What a presented refresh token gets (``_refresh_rule``).
ROTATE, GRACE, REUSE = "rotate", "grace", "reuse"


def jwt_refresh(*, raw: str, request: HttpRequest | None) -> TokenPair:
    """Rotate: the presented refresh token is retired by one conditional UPDATE.

    ``UPDATE ... SET used_at = now, successor_jti = <new> WHERE jti = %s AND
    used_at IS NULL AND the family is the token's, of its user, and not
    revoked``, on the row alone, so the database lets exactly one concurrent
    caller win, and records the one successor it made. The winner needs no
    other read: the user comes from the family's cache entry (the one access
    tokens use), the family's expiry from the token (``fexp``).

    Every caller that did not win is judged by ``_refresh_rule``: a replay of
    the token just rotated (its successor still the family's newest, unused)
    less than ``REUSE_GRACE_SECONDS`` after the rotation is the same client
    racing itself (two tabs) and gets that very successor back, signed again
    from its row (the same claims: an idempotent retry, never a second
    token); any other replay is reuse: the whole family, access tokens
    included, is revoked.

    Why the successor's id on the retired row, and not an encrypted cache
    entry keyed by the old token (as ``bouncer/oauth/grace.py`` must do for
    OAuth2's random tokens): a JWT is a function of its claims, so the
    successor is signed again from ids and times, and nothing secret is
    stored; the row is the same on every node, with Redis off, and after a
    cache flush, and it is already what a loser reads to tell a retry from
    reuse; the winner writes one more column in the UPDATE it runs anyway.

    On PostgreSQL the winning path is one statement (``rows.refresh_rotate_at_once``);
    anything else (a lost race, reuse, a revoked sign-in, another database)
    takes the transaction below, which decides why.
    """
    try:
        claims = _decode(raw, REFRESH)
        now = timezone.now()
        jti, family_id, user_id = _uuid(claims["jti"]), _uuid(claims["fam"]), _user_id(claims["sub"])
        pair = None
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            pair = _refresh_at_once(claims=claims, jti=jti, family_id=family_id, user_id=user_id, now=now, request=request)
        if pair is None:
            pair = _refresh_in_transaction(claims=claims, jti=jti, family_id=family_id, user_id=user_id, now=now, request=request)
    except JwtRejected as exc:
        if not exc.reuse:  # a replay was counted with its audit row (token_reuse_detected)
            metrics.refresh_rejected("jwt")
        raise
    if secrets.randbelow(PURGE_EVERY_N_REFRESHES) == 0:
        # Sign-ins purge every time; long-lived sign-ins that only refresh
        # also retire expired rows, on about one refresh in N.
        jwt_purge_expired(now=now)
    return pair


def _refresh_rule(*, revoked: bool, user: User | None, won: bool, used_at: datetime | None = None, successor_live: bool = False) -> str:
    """The refresh rules, once, for both paths: ROTATE, GRACE or REUSE; raises JwtRejected.

    ``revoked``/``user``: the sign-in's state and its user (None: no sign-in
    of that user). ``won``: this caller's UPDATE retired the token (or, on the
    one-statement path, is about to try). Otherwise ``used_at`` is when the
    token was rotated (None: never, so the sign-in is not live) and
    ``successor_live`` whether the one token it was rotated into is unused:
    only the token just rotated is forgiven, never an older one.
    """
    if revoked or user is None or not user.is_active:
        raise JwtRejected("token_revoked", "Token has been revoked.")
    if won:
        return ROTATE
    if used_at is None:
        raise JwtRejected("token_revoked", "Token has been revoked.")
    grace = timedelta(seconds=settings.BOUNCER_JWT["REUSE_GRACE_SECONDS"])
    # Measured after the UPDATE, never negative (clocks of two nodes), so a
    # grace of 0 means no loser is ever forgiven.
    if successor_live and max(timezone.now() - used_at, timedelta(0)) < grace:
        return GRACE
    return REUSE


def _known_family_expiry(claims: dict) -> datetime | None:
    fexp = claims.get("fexp")
    return datetime.fromtimestamp(fexp, tz=UTC) if isinstance(fexp, int) else None


def _refresh_at_once(*, claims, jti, family_id, user_id, now, request) -> TokenPair | None:
    """The winning rotation as one statement; None when it did not win (the transaction decides why)."""
    state, user = family_principal(family_id=family_id, user_id=user_id)
    _refresh_rule(revoked=state == REVOKED, user=user, won=True)  # raises for a sign-in that is not live
    refresh_expires = now + timedelta(seconds=settings.BOUNCER_JWT["REFRESH_LIFETIME_SECONDS"])
    family_expires = _family_expiry(family_id=family_id, known=_known_family_expiry(claims), refresh_expires=refresh_expires)
    new_jti = uuid7()
    event = audit_event(
        action=AuditAction.TOKEN_REFRESHED, request=request, user=user, method="jwt",
        data={"family": str(family_id), "grace": False},
    )
    won = refresh_rotate_at_once(
        jti=jti, family_id=family_id, user_id=user_id, now=now, new_jti=new_jti, new_expires=refresh_expires,
        audit=event, durable=settings.BOUNCER_JWT["REFRESH_DURABLE"],
    )
    if not won:
        return None
    audit_log(event)
    return _sign_pair(user=user, family_id=family_id, family_expires=family_expires, now=now, refresh_jti=new_jti, amr=_token_amr(claims))


def _refresh_in_transaction(*, claims, jti, family_id, user_id, now, request) -> TokenPair:
    new_jti = uuid7()
    with transaction.atomic():
        if refresh_row_retire(jti=jti, family_id=family_id, user_id=user_id, now=now, successor=new_jti):
            state, user = family_principal(family_id=family_id, user_id=user_id)
            verdict = _refresh_rule(revoked=state == REVOKED, user=user, won=True)
            if not settings.BOUNCER_JWT["REFRESH_DURABLE"]:
                refresh_commit_without_flush()
        else:
            row, successor = _refresh_rows(jti=jti, claims=claims)
            user = row.family.user
            verdict = _refresh_rule(
                revoked=row.family.revoked_at is not None, user=user, won=False, used_at=row.used_at,
                successor_live=successor is not None and successor.used_at is None,
            )
        # The audit row shares the rotation's transaction: one commit (one
        # WAL flush) per refresh, and no rotation without its audit row.
        if verdict == REUSE:
            _revoke_families([family_id], reason="reuse", now=now)
            family_state_invalidate([family_id])  # inside: the cache unreachable rolls the revocation back (503)
            audit_record(action=AuditAction.TOKEN_REUSE_DETECTED, request=request, user=user, method="jwt", data={"family": str(family_id)})
        else:
            if verdict == ROTATE:
                pair = _mint(
                    user=user, family_id=family_id, family_expires=_known_family_expiry(claims), now=now, jti=new_jti,
                    amr=_token_amr(claims),
                )
            else:  # GRACE: the very successor the rotation issued, signed again from its row
                family_expires = _next_family_expiry(known=_known_family_expiry(claims), refresh_expires=successor.expires_at)
                # The presented token's amr is the one the rotation copied into the successor.
                pair = _sign_pair(
                    user=user, family_id=family_id, family_expires=family_expires, now=successor.issued_at,
                    refresh_jti=successor.jti, amr=_token_amr(claims),
                )
            audit_record(
                action=AuditAction.TOKEN_REFRESHED, request=request, user=user, method="jwt",
                data={"family": str(family_id), "grace": verdict == GRACE},
            )
    if verdict == REUSE:
        raise JwtRejected("token_revoked", "Token has been revoked.", reuse=True)
    return pair


def _refresh_rows(*, jti: uuid.UUID, claims: dict) -> tuple[JwtRefreshToken, JwtRefreshToken | None]:
    """The presented token's row (with its family and user) and its successor's, after a lost UPDATE."""
    row = JwtRefreshToken.objects.select_related("family__user").filter(jti=jti).first()
    if row is None or str(row.family.user_id) != str(claims["sub"]) or str(row.family_id) != str(claims["fam"]):
        raise JwtRejected("token_invalid", "Token is invalid.")
    successor = None
    if row.successor_jti is not None:
        successor = JwtRefreshToken.objects.filter(jti=row.successor_jti, family_id=row.family_id).first()
    return row, successor


def jwt_verify(*, raw: str) -> None:
    """200 for a valid access token, or the unretired refresh token, of a live sign-in; else JwtRejected.

    Refresh tokens are accepted as simplejwt's verify accepts any token type
    (clients of its API send them), but only the one a refresh would rotate:
    a retired one is refused even within the grace window (a replay there
    gets the successor, it does not make the old token valid). That costs a
    read of its row, on refresh tokens only; access tokens stay a cache get.
    """
    try:
        claims = jwt_decode(raw, token_type=ACCESS)
    except InvalidJwt as exc:
        if exc.code != "token_wrong_type":
            raise JwtRejected(exc.code, exc.message) from None
        claims = _decode(raw, REFRESH)
    family_id = _uuid(claims["fam"])
    state, user = family_principal(family_id=family_id, user_id=claims["sub"])
    if state == REVOKED or user is None or not user.is_active:
        raise JwtRejected("token_revoked", "Token has been revoked.")
    if claims["token_type"] == REFRESH and not JwtRefreshToken.objects.filter(
        jti=_uuid(claims["jti"]), family_id=family_id, used_at__isnull=True
    ).exists():
        raise JwtRejected("token_revoked", "Token has been revoked.")


def jwt_logout(*, raw: str, request: HttpRequest | None) -> None:
    """Revoke the sign-in the refresh token belongs to (its access tokens too)."""
    claims = _decode(raw, REFRESH)
    family = JwtFamily.objects.select_related("user").filter(pk=_uuid(claims["fam"]), user_id=claims["sub"]).first()
    if family is None or family.revoked_at is not None:
        raise JwtRejected("token_revoked", "Token has been revoked.")
    jwt_revoke_family(family=family, request=request, reason="logout")


def jwt_revoke_family(*, family: JwtFamily, request: HttpRequest | None, reason: str) -> bool:
    """Revoke one sign-in; whether this call did (a concurrent revocation may have
    won: then no second audit row)."""
    with transaction.atomic(savepoint=False):  # the cache unreachable: no revocation (503), never a stale "ok" left behind
        revoked = _revoke_families([family.pk], reason=reason, now=timezone.now())
        family_state_invalidate([family.pk])
    if not revoked:
        return False
    audit_record(
        action=AuditAction.TOKEN_REVOKED, request=request, user=family.user, method="jwt",
        data={"family": str(family.pk), "reason": reason},
    )
    return True


def jwt_revoke_for_user(*, user: User, request: HttpRequest | None, reason: str, keep_family=None) -> int:
    """Revoke every live sign-in of ``user`` (password change), except ``keep_family``."""
    families = JwtFamily.objects.filter(user=user, revoked_at__isnull=True)
    if keep_family is not None:
        families = families.exclude(pk=keep_family)
    ids = list(families.values_list("pk", flat=True))
    if not ids:
        return 0
    with transaction.atomic(savepoint=False):  # as jwt_revoke_family
        count = _revoke_families(ids, reason=reason, now=timezone.now())  # a concurrent revocation may have taken some
        family_state_invalidate(ids)
    if not count:
        return 0
    audit_record(action=AuditAction.TOKEN_REVOKED, request=request, user=user, method="jwt", data={"count": count, "reason": reason})
    return count


def jwt_purge_expired(*, now: datetime | None = None, batch: int = PURGE_BATCH) -> int:
    """Delete up to ``batch`` expired families and expired refresh rows."""
    now = now or timezone.now()
    families = list(JwtFamily.objects.filter(expires_at__lte=now).values_list("pk", flat=True)[:batch])
    deleted = JwtFamily.objects.filter(pk__in=families).delete()[0] if families else 0
    rows = list(JwtRefreshToken.objects.filter(expires_at__lte=now).values_list("pk", flat=True)[:batch])
    if rows:
        deleted += JwtRefreshToken.objects.filter(pk__in=rows).delete()[0]
    return deleted


def _revoke_families(ids, *, reason: str, now: datetime) -> int:
    return JwtFamily.objects.filter(pk__in=ids, revoked_at__isnull=True).update(revoked_at=now, revoke_reason=reason)


def _decode(raw: str, token_type: str) -> dict:
    try:
        return jwt_decode(raw, token_type=token_type)
    except InvalidJwt as exc:
        raise JwtRejected(exc.code, exc.message) from None


def _uuid(value) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise JwtRejected("token_invalid", "Token is invalid.") from None


def _user_id(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise JwtRejected("token_invalid", "Token is invalid.") from None


class JwtCredentials:
    """JWT sign-ins (refresh-token families) in the credential registry (bouncer.core.credentials)."""

    name = "jwt"

    def list_for_user(self, *, user) -> list[credentials.Credential]:
        rows = JwtFamily.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()).values_list(
            "pk", "user_agent", "ip_address", "created_at", "last_used_at", "amr"
        )
        return [
            credentials.Credential(
                kind=self.name, key=str(pk), device=agent, address=address or "", created_at=created, last_used_at=used,
                amr=assurance.amr_or_password(amr),
            )
            for pk, agent, address, created, used, amr in rows
        ]

    def current_key(self, *, request) -> str | None:
        auth = getattr(request, "auth", None)
        return str(auth["fam"]) if isinstance(auth, dict) and auth.get("fam") else None

    def current_amr(self, *, request) -> tuple[str, ...] | None:
        # The verified access token's own claim (the signature covers it): no read.
        if self.current_key(request=request) is None:
            return None
        return claim_amr(request.auth)

    def revoke(self, *, user, key: str, request: HttpRequest | None, reason: str) -> bool:
        family = JwtFamily.objects.filter(user=user, pk=key, revoked_at__isnull=True).first()
        if family is None:
            return False
        family.user = user
        return jwt_revoke_family(family=family, request=request, reason=reason)

    def revoke_all(self, *, user, request: HttpRequest | None, reason: str, keep: str | None = None) -> int:
        return jwt_revoke_for_user(user=user, request=request, reason=reason, keep_family=keep)
