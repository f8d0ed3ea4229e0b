"""Writes and side effects of the OAuth2 provider, each with its audit row.

django-oauth-toolkit does the protocol; these are the parts it leaves to the
project: registering clients, single-use codes whose replay revokes, audit,
consent withdrawal, and purging expired rows without a cron job.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Exists, OuterRef, Subquery
from django.http import HttpRequest
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import (
    AbstractApplication,
    clear_expired,
    get_access_token_model,
    get_application_model,
    get_device_grant_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
    revoke_access_token,
)
from oauth2_provider.settings import oauth2_settings

from bouncer.audit.models import AuditAction
from bouncer.audit.services import audit_record
from bouncer.core import assurance
from bouncer.oauth.models import AuthorizationAmr, RedeemedCode
from bouncer.users.signin import signin_incomplete_record, signin_password

METHOD = "oauth2"
PURGE_LOCK_KEY = "oauth:purge:lock"

#: What an application may be registered for: no implicit, no hybrid.
CLIENT_GRANT_TYPES = (
    AbstractApplication.GRANT_AUTHORIZATION_CODE,
    AbstractApplication.GRANT_CLIENT_CREDENTIALS,
    AbstractApplication.GRANT_PASSWORD,
    AbstractApplication.GRANT_DEVICE_CODE,
)
CLIENT_TYPES = (AbstractApplication.CLIENT_CONFIDENTIAL, AbstractApplication.CLIENT_PUBLIC)


# --- clients -------------------------------------------------------------------


def oauth_client_check(*, application) -> None:
    """Bouncer's rules on top of the toolkit's ``clean()``; ValidationError by field."""
    problems: dict[str, list[str]] = {}
    if application.authorization_grant_type not in CLIENT_GRANT_TYPES:
        problems["authorization_grant_type"] = ["Implicit and hybrid flows are not offered: use authorization-code with PKCE."]
    if application.algorithm not in (AbstractApplication.NO_ALGORITHM, AbstractApplication.RS256_ALGORITHM):
        problems["algorithm"] = ["id_tokens are signed RS256 only."]
    if not application.hash_client_secret:
        problems["hash_client_secret"] = ["Client secrets are always stored hashed."]
    if (
        application.client_type == AbstractApplication.CLIENT_PUBLIC
        and application.authorization_grant_type in (AbstractApplication.GRANT_CLIENT_CREDENTIALS, AbstractApplication.GRANT_PASSWORD)
    ):
        problems["client_type"] = ["A public client cannot keep a secret: this grant needs a confidential client."]
    if problems:
        raise ValidationError(problems)


def oauth_client_create(
    *,
    name: str,
    client_type: str,
    grant_type: str,
    redirect_uris: str = "",
    post_logout_redirect_uris: str = "",
    skip_authorization: bool = False,
    openid: bool = True,
    user=None,
    client_id: str | None = None,
):
    """Register an application; returns it and its secret (shown once, stored hashed).

    ``client_id`` is generated unless given (the demo client has a fixed one).
    """
    secret = generate_client_secret() if client_type == AbstractApplication.CLIENT_CONFIDENTIAL else ""
    application = get_application_model()(
        name=name,
        client_type=client_type,
        authorization_grant_type=grant_type,
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=post_logout_redirect_uris,
        skip_authorization=skip_authorization,
        algorithm=AbstractApplication.RS256_ALGORITHM if openid else AbstractApplication.NO_ALGORITHM,
        client_secret=secret,
        hash_client_secret=True,
        user=user,
    )
    if client_id is not None:
        application.client_id = client_id
    application.full_clean(exclude=None if client_id is not None else ["client_id"])
    oauth_client_check(application=application)
    application.save()
    return application, secret


def oauth_client_auth_failed(*, request: HttpRequest | None, client_id: str) -> None:
    audit_record(action=AuditAction.CLIENT_AUTH_FAILED, request=request, method=METHOD, data={"client_id": client_id})


# --- tokens ----------------------------------------------------------------------


def oauth_password_authenticate(*, request: HttpRequest, username: str, password: str):
    """The password grant signs in through the sign-in flow like every other sign-in.

    Per address on the ``token`` scope, like the other password logins that
    issue tokens (DRF token, JWT): ``/o/token/``'s own per-address rate
    (``oauth/throttling.py``) is sized for every grant (120/min) and would
    let a sprayer guess twelve times faster here. Then per account and the
    lockout, counted with every other way in. Raises ``InvalidCredentials``,
    ``SignInIncomplete`` (both ``invalid_grant``), or ``SignInThrottled`` /
    ``AccountLocked`` (the validator answers 429 ``rate_limited``).
    """
    result = signin_password(request=request, username=username, password=password, method=METHOD, address_scope="token")
    if not result.complete:
        signin_incomplete_record(request=request, user=result.user, method=METHOD, step=result.pending_steps[0])
    return result.completed_user()


def oauth_token_issued_record(*, request: HttpRequest | None, token, grant_type: str) -> None:
    action = AuditAction.TOKEN_REFRESHED if grant_type == "refresh_token" else AuditAction.TOKEN_ISSUED
    application = token.application
    audit_record(
        action=action,
        request=request,
        user=token.user,
        username="" if token.user_id else f"client:{application.client_id if application else ''}"[:150],
        method=METHOD,
        data={"client_id": application.client_id if application else "", "grant_type": grant_type, "scope": token.scope},
    )


def oauth_token_owner(*, client, token_checksum: str) -> tuple[bool, object]:
    """(found, user) for a token of this client with this checksum (revocation audit)."""
    if getattr(client, "pk", None) is None:
        return False, None
    for model in (get_access_token_model(), get_refresh_token_model()):
        row = model.objects.filter(token_checksum=token_checksum, application_id=client.pk).select_related("user").first()
        if row is not None:
            return True, row.user
    return False, None


def oauth_token_revoked_record(*, request: HttpRequest | None, client, user) -> None:
    audit_record(
        action=AuditAction.TOKEN_REVOKED,
        request=request,
        user=user,
        username="" if user else f"client:{client.client_id}"[:150],
        method=METHOD,
        data={"client_id": client.client_id, "reason": "revocation_endpoint"},
    )


#: Attempts of a revocation that PostgreSQL chose as a deadlock's victim.
DEADLOCK_ATTEMPTS = 3


def is_deadlock(exc: OperationalError) -> bool:
    """PostgreSQL aborted this transaction to break a deadlock (SQLSTATE 40P01): running it again is safe."""
    return getattr(exc.__cause__, "sqlstate", None) == "40P01"


def _deadlock_retried(write) -> None:
    """Run ``write`` (one atomic block) again when PostgreSQL broke a deadlock by aborting it.

    The lock order below makes deadlocks with the toolkit's rotation rare, not
    impossible (its own statements lock what they touch in plan order); a
    revocation must not fail for it, so it runs again, as PostgreSQL's
    documentation advises. The block is a savepoint inside a caller's
    transaction, so a retry never repeats the caller's work.
    """
    for attempt in range(DEADLOCK_ATTEMPTS):
        try:
            with transaction.atomic():
                write()
            return
        except OperationalError as exc:
            if not is_deadlock(exc) or attempt == DEADLOCK_ATTEMPTS - 1:
                raise


def oauth_refresh_family_revoke(*, token_family) -> None:
    """The toolkit's set-based ``revoke_family``, after locking the family's refresh tokens by
    primary key.

    Its UPDATE takes the family's rows in whatever order the plan visits them;
    several losers of one refresh race revoking the same family at once (and a
    sign-out everywhere deleting it) took them in different orders and
    deadlocked on PostgreSQL: 500s, and the family survived the loser that died.
    """
    model = get_refresh_token_model()

    def write():
        list(model.objects.filter(token_family=token_family).select_for_update().order_by("pk").values_list("pk", flat=True))
        model.revoke_family(token_family)

    _deadlock_retried(write)


def oauth_refresh_token_family_revoke(*, client, token_checksum: str) -> None:
    """A refresh token of ``client`` was revoked (RFC 7009): its whole family goes with it.

    The toolkit revokes the presented row only, and does nothing for a row
    already rotated: a client signing out with the refresh token one tab holds
    while another tab rotated it left the successor live.
    """
    if getattr(client, "pk", None) is None:
        return
    row = get_refresh_token_model().objects.filter(token_checksum=token_checksum, application_id=client.pk).first()
    if row is not None and row.token_family:
        oauth_refresh_family_revoke(token_family=row.token_family)


def oauth_refresh_reuse_record(*, request: HttpRequest | None, client, token_checksum: str) -> bool:
    """A refused refresh token that exists revoked was replayed: the toolkit revoked its family.

    Whether it was such a replay (recorded); False for a token that is not a revoked one of this client.
    """
    row = (
        get_refresh_token_model()
        .objects.filter(token_checksum=token_checksum, revoked__isnull=False, application_id=getattr(client, "pk", None))
        .select_related("user")
        .first()
    )
    if row is not None:
        audit_record(
            action=AuditAction.TOKEN_REUSE_DETECTED,
            request=request,
            user=row.user,
            method=METHOD,
            data={"client_id": client.client_id, "family": str(row.token_family)},
        )
        return True
    return False


# --- authorization codes ------------------------------------------------------------


def oauth_code_redeem(
    *, client, code: str, code_digest: str, access_token_checksum: str, refresh_token_checksum: str
) -> bool:
    """Delete the grant and record what it issued, atomically; False if already gone.

    The DELETE decides: of two concurrent redemptions exactly one deletes the
    row, and its record commits with the deletion.
    """
    now = timezone.now()
    with transaction.atomic():
        if not get_grant_model().objects.filter(code=code, application=client).delete()[0]:
            return False
        try:
            with transaction.atomic():
                RedeemedCode.objects.create(
                    code_digest=code_digest,
                    application=client,
                    access_token_checksum=access_token_checksum,
                    refresh_token_checksum=refresh_token_checksum,
                    redeemed_at=now,
                    expires_at=now + timedelta(seconds=settings.BOUNCER_OAUTH["REDEEMED_CODE_SECONDS"]),
                )
        except IntegrityError:
            return False
        _authorization_amr_bind(code_digest=code_digest, refresh_token_checksum=refresh_token_checksum)
    return True


# --- how the user signed in, for the id_token (AuthorizationAmr) ----------------------


def oauth_authorization_amr_remember(*, code_digest: str, amr) -> None:
    """At ``/o/authorize/``: the amr of the session that authorized, kept for the code's exchange."""
    AuthorizationAmr.objects.create(
        code_digest=code_digest,
        amr=assurance.amr_stored(assurance.amr_or_password(amr)),
        expires_at=timezone.now() + timedelta(seconds=oauth2_settings.AUTHORIZATION_CODE_EXPIRE_SECONDS),
    )


def oauth_authorization_amr_of_code(*, code_digest: str) -> tuple[str, ...]:
    """The amr the code was authorized with (a code from before amr was kept: ``pwd``)."""
    stored = AuthorizationAmr.objects.filter(code_digest=code_digest).values_list("amr", flat=True).first()
    return assurance.amr_or_password(stored)


def oauth_authorization_amr_of_family(*, token_family) -> tuple[str, ...]:
    """The amr a refresh-token family's id_tokens carry: that of the code that started it.

    A family not started by a code (the password grant, the device flow) or
    from before amr was kept: ``pwd``, never more than was proven.
    """
    stored = (
        AuthorizationAmr.objects.filter(token_family=token_family).values_list("amr", flat=True).first()
        if token_family is not None
        else None
    )
    return assurance.amr_or_password(stored)


def _authorization_amr_bind(*, code_digest: str, refresh_token_checksum: str) -> None:
    """The code is redeemed: its amr now belongs to the refresh-token family it started (one UPDATE)."""
    rows = AuthorizationAmr.objects.filter(code_digest=code_digest)
    if not refresh_token_checksum:
        rows.delete()  # no refresh token: nothing will ask again
        return
    family = get_refresh_token_model().objects.filter(token_checksum=refresh_token_checksum).values("token_family")[:1]
    rows.update(code_digest=None, token_family=Subquery(family))


def oauth_code_replay_revoke(*, request: HttpRequest | None, client, code_digest: str, also_checksums=()) -> bool:
    """A redeemed code came back: revoke every token it issued (and their refresh family)."""
    record = RedeemedCode.objects.filter(code_digest=code_digest, application=client).first() if client else None
    if record is None:
        return False
    access_model, refresh_model = get_access_token_model(), get_refresh_token_model()
    checksums = {record.access_token_checksum, record.refresh_token_checksum, *also_checksums} - {""}
    user = None
    with transaction.atomic():
        families = set()
        for refresh in refresh_model.objects.filter(token_checksum__in=checksums, application=client):
            user = user or refresh.user
            if refresh.token_family:
                families.add(refresh.token_family)
        for family in families:
            # Rotation keeps the family, so this reaches every descendant.
            oauth_refresh_family_revoke(token_family=family)
        for access in access_model.objects.filter(token_checksum__in=checksums, application=client).select_related("user"):
            user = user or access.user
            revoke_access_token(access)
    audit_record(
        action=AuditAction.CODE_REPLAYED, request=request, user=user, method=METHOD, data={"client_id": client.client_id}
    )
    return True


# --- consent -------------------------------------------------------------------------


def oauth_consent_given_record(*, request: HttpRequest, application, scopes: str) -> None:
    audit_record(
        action=AuditAction.CONSENT_GIVEN,
        request=request,
        user=request.user,
        method=METHOD,
        data={"client_id": application.client_id, "scope": scopes},
    )


def oauth_consent_withdraw(*, request: HttpRequest | None, user, application) -> int:
    """Revoke every token this user gave this application; returns how many."""
    revoked = 0
    with transaction.atomic():
        for access in get_access_token_model().objects.filter(user=user, application=application):
            revoke_access_token(access)
            revoked += 1
        refresh = get_refresh_token_model().objects.filter(user=user, application=application, revoked__isnull=True)
        for token in refresh:
            token.revoke()
            revoked += 1
    audit_record(
        action=AuditAction.CONSENT_WITHDRAWN,
        request=request,
        user=user,
        method=METHOD,
        data={"client_id": application.client_id, "revoked": revoked},
    )
    return revoked


def oauth_rp_logout_record(*, request: HttpRequest, user, application) -> None:
    """An OpenID Connect relying party signed the user out (``/o/logout/``)."""
    audit_record(
        action=AuditAction.LOGOUT,
        request=request,
        user=user if getattr(user, "is_authenticated", False) else None,
        method="oidc",
        data={"client_id": getattr(application, "client_id", "")},
    )


# --- purge ---------------------------------------------------------------------------


def oauth_purge_expired(*, force: bool = False) -> bool:
    """Delete expired tokens, grants and redeemed-code records.

    Runs the toolkit's ``clear_expired()`` (no cron job needed) at most once
    per ``PURGE_INTERVAL_SECONDS`` across all nodes: ``cache.add`` is atomic,
    so one request per interval wins and does the work. Returns whether it ran.
    """
    interval = settings.BOUNCER_OAUTH["PURGE_INTERVAL_SECONDS"]
    if not force and not cache.add(PURGE_LOCK_KEY, 1, timeout=interval):
        return False
    clear_expired()
    now = timezone.now()
    RedeemedCode.objects.filter(expires_at__lte=now).delete()
    # Codes never redeemed, and families with no refresh token left (the toolkit purged them).
    AuthorizationAmr.objects.filter(token_family__isnull=True, expires_at__lte=now).delete()
    live = get_refresh_token_model().objects.filter(token_family=OuterRef("token_family"))
    AuthorizationAmr.objects.filter(token_family__isnull=False).exclude(Exists(live)).delete()
    return True


# --- the credential registry: one authorization = a user's tokens for one application ---


def _user_tokens(*, user, application_id=None):
    """(access, refresh, id_token, grant) querysets of ``user``, for one application or all."""
    filters = {"user": user, "application__isnull": False} if application_id is None else {"user": user, "application_id": application_id}
    return (
        get_access_token_model().objects.filter(**filters),
        get_refresh_token_model().objects.filter(**filters),
        get_id_token_model().objects.filter(**filters),
        get_grant_model().objects.filter(**filters),
    )


def oauth_authorization_revoke(
    *, user, request: HttpRequest | None, reason: str, application_id=None, keep_application_id=None, keep_access_token=None
) -> int:
    """Delete every token, id_token and pending (device) code ``user`` holds for the application
    (all applications when None, except ``keep_application_id``; with ``keep_access_token``,
    all but that access token, its refresh token and id_token); one audit row.

    Rows are deleted, not marked revoked: a refresh token revoked a moment ago
    still passes the toolkit's grace-period check, a deleted one never does.
    ``post_delete`` of each access token drops its cache entry. Returns the
    number of applications whose authorization went.
    """
    querysets = _user_tokens(user=user, application_id=application_id)
    if keep_application_id is not None:
        querysets = tuple(qs.exclude(application_id=keep_application_id) for qs in querysets)
    access, refresh, id_tokens, grants = querysets
    if keep_access_token is not None:
        # Only the pair the request came with: another device signed in through
        # the same application (a stolen refresh token of it) is not "current".
        access = access.exclude(pk=keep_access_token.pk)
        refresh = refresh.exclude(access_token_id=keep_access_token.pk)
        if keep_access_token.id_token_id is not None:
            id_tokens = id_tokens.exclude(pk=keep_access_token.id_token_id)
    # A device code approved but not polled yet (the model names its client by client_id).
    device_grants = get_device_grant_model().objects.filter(user=user)
    if application_id is not None:
        device_grants = device_grants.filter(client_id__in=get_application_model().objects.filter(pk=application_id).values("client_id"))
    if keep_application_id is not None:
        device_grants = device_grants.exclude(client_id__in=get_application_model().objects.filter(pk=keep_application_id).values("client_id"))
    applications: set = set()

    def write():
        # Lock the refresh tokens first, in the toolkit's order (refresh token,
        # then access token: its rotation, ``revoke`` and ``revoke_family``).
        # Deleting them straight away makes Django's collector clear
        # ``AccessToken.source_refresh_token`` (access rows) before it reaches
        # the refresh rows: the opposite order, which deadlocked with a
        # concurrent refresh on PostgreSQL (a 500, or a failed deactivation).
        # By primary key, as ``oauth_refresh_family_revoke`` does: two lockers of
        # one family's rows never take them in opposite orders.
        list(refresh.select_for_update().order_by("pk").values_list("pk", flat=True))
        applications.clear()
        applications.update(set(access.values_list("application_id", flat=True)) | set(
            refresh.filter(revoked__isnull=True).values_list("application_id", flat=True)
        ))
        # Counted from the DELETEs, not the SELECT above: of concurrent revocations of
        # the same tokens only the one whose DELETE took rows answers and audits.
        deleted[0] = refresh.delete()[0] + access.delete()[0]
        id_tokens.delete()
        grants.delete()
        device_grants.delete()

    deleted = [0]
    _deadlock_retried(write)
    if not deleted[0]:
        applications = set()
    if applications:
        client_ids = sorted(get_application_model().objects.filter(pk__in=applications).values_list("client_id", flat=True))
        audit_record(
            action=AuditAction.TOKEN_REVOKED,
            request=request,
            user=user,
            method=METHOD,
            data={"client_ids": client_ids, "reason": reason},
        )
    return len(applications)


class OAuthCredentials:
    """OAuth2 authorizations (a user's live tokens of one application) in the registry."""

    name = "oauth2"

    def list_for_user(self, *, user) -> list:
        from bouncer.core.credentials import Credential

        now = timezone.now()
        access, refresh, *_ = _user_tokens(user=user)
        refresh = refresh.filter(revoked__isnull=True)
        refresh_life = oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS
        if refresh_life:  # the toolkit refuses (and later purges) older refresh tokens
            refresh = refresh.filter(created__gt=now - timedelta(seconds=refresh_life))
        seen: dict = {}
        rows = [
            *access.filter(expires__gt=now).values_list("application_id", "created", "updated"),
            *refresh.values_list("application_id", "created", "updated"),
        ]
        for application_id, created, updated in rows:
            first, last = seen.get(application_id, (created, updated))
            seen[application_id] = (min(first, created), max(last, updated))
        names = dict(get_application_model().objects.filter(pk__in=seen).values_list("pk", "name"))
        return [
            Credential(kind=self.name, key=str(pk), device=names.get(pk, ""), address="", created_at=first, last_used_at=last)
            for pk, (first, last) in seen.items()
        ]

    def current_key(self, *, request) -> str | None:
        auth = getattr(request, "auth", None)
        if isinstance(auth, get_access_token_model()) and auth.user_id is not None:
            return str(auth.application_id)
        return None

    def current_amr(self, *, request) -> tuple[str, ...] | None:
        """Always ``()`` for an OAuth2 access token: ``MfaVerified`` refuses it.

        An access token is authority the user delegated to an application,
        bounded by its scopes, not a sign-in of the user's: it outlives the
        sign-in behind it through every refresh, and a client-credentials
        token has no user at all. The relying party learns how the user
        signed in from the id_token's ``amr``/``acr`` (validators.py); an
        endpoint that wants an MFA-verified user wants the user, not an
        application acting for them (docs/oauth.md).
        """
        auth = getattr(request, "auth", None)
        return () if isinstance(auth, get_access_token_model()) else None

    def revoke(self, *, user, key: str, request: HttpRequest | None, reason: str) -> bool:
        return bool(oauth_authorization_revoke(user=user, request=request, reason=reason, application_id=int(key)))

    def revoke_all(self, *, user, request: HttpRequest | None, reason: str, keep: str | None = None) -> int:
        # ``keep`` names the current application (the listed credential); what is
        # kept of it is the token pair this request came with (``current_key``).
        current = getattr(request, "auth", None) if keep is not None else None
        if current is not None and str(current.application_id) == keep:
            return oauth_authorization_revoke(user=user, request=request, reason=reason, keep_access_token=current)
        return oauth_authorization_revoke(
            user=user, request=request, reason=reason, keep_application_id=int(keep) if keep is not None else None
        )
