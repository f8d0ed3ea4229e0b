"""django-oauth-toolkit rows of a stock Django project → Bouncer's (the same toolkit).

Applications keep their client id and their client secret *hash* (the
toolkit hashes secrets with Django's hashers; PBKDF2 is in Bouncer's
``PASSWORD_HASHERS``, so the old secret still authenticates). Live access
tokens and unrevoked refresh tokens are stored the way Bouncer's toolkit
setup stores them (``COMPLIANT_BCP_RFC9700_TOKEN_STORAGE``): the SHA-256
``token_checksum`` only, the ``token`` column blank, so an old token is
found by the same lookup as a new one and its plaintext is never written.

An application Bouncer's rules refuse (``oauth_client_check``) is imported in
the nearest safe form and reported, never as it was:

- a public client with the password or client-credentials grant (anyone who
  knows its id could use it; the production posture check refuses it) keeps
  its id and its live tokens, refresh included, but gets the
  authorization-code grant: no new password sign-in through it until an
  operator gives it redirect URIs (public, code + PKCE) or makes it
  confidential in the admin;
- implicit and hybrid clients get the authorization-code grant;
- an id_token algorithm other than RS256 becomes RS256 (HS256 needs the
  secret in plain text, which Bouncer never keeps);
- a secret stored in plain text (``hash_client_secret`` off) is hashed.

Access tokens live no longer than Bouncer would issue them: at most
``ACCESS_TOKEN_EXPIRE_SECONDS`` from the import. Refresh tokens keep their
creation time, so Bouncer's own refresh lifetime counts from it. ID tokens
and authorization codes (one minute) are not imported. Tokens are imported only
with a user (or, for a client's own token, an application) that this run
imported: a rerun never brings back a token revoked in Bouncer since.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.contrib.auth.hashers import identify_hasher, make_password
from django.core.exceptions import ValidationError
from oauth2_provider.models import AbstractApplication, get_access_token_model, get_application_model, get_refresh_token_model
from oauth2_provider.settings import oauth2_settings

from bouncer.core.digests import sha256_hex
from bouncer.core.imports import ImportContext, source_datetime
from bouncer.oauth.services import CLIENT_GRANT_TYPES, oauth_client_check

APPLICATIONS = "OAuth2 applications"
ACCESS = "OAuth2 access tokens"
REFRESH = "OAuth2 refresh tokens"
APP_TABLE = "oauth2_provider_application"
ACCESS_TABLE = "oauth2_provider_accesstoken"
REFRESH_TABLE = "oauth2_provider_refreshtoken"

APP_COLUMNS = (
    "id", "client_id", "client_secret", "hash_client_secret", "name", "client_type", "authorization_grant_type",
    "redirect_uris", "post_logout_redirect_uris", "allowed_origins", "skip_authorization", "algorithm", "user_id",
    "created",
)


def _select(source, table: str, wanted) -> list[dict]:
    """The columns of ``wanted`` this toolkit version has (older ones lack some)."""
    have = source.columns(table)
    present = [column for column in wanted if column in have]
    rows = source.rows(f"SELECT {', '.join(present)} FROM {table} ORDER BY id")
    for row in rows:
        for column in wanted:
            row.setdefault(column, None)
    return rows


def _checksum(row: dict) -> str:
    """The toolkit's lookup checksum: SHA-256 of the token (older versions kept only the token)."""
    token = row.get("token") or ""
    return sha256_hex(token) if token else (row.get("token_checksum") or "")


class OAuthImport:
    order = 20
    name = "oauth2"

    def run(self, *, context: ImportContext, skip_collisions: bool) -> None:
        source = context.source
        if not source.has_table(APP_TABLE):
            context.report.notes.append("no oauth2_provider tables: the old project had no OAuth2 applications")
            return
        applications = self._applications(context)
        refresh_rows = []
        if source.has_table(REFRESH_TABLE):
            refresh_rows = [
                row for row in _select(source, REFRESH_TABLE, ("id", "token", "token_checksum", "user_id", "application_id",
                                                               "access_token_id", "created", "revoked", "token_family"))
                if row["revoked"] is None
            ]
        wanted_access = {row["access_token_id"] for row in refresh_rows if row["access_token_id"] is not None}
        access_ids = self._access_tokens(context, applications, wanted_access) if source.has_table(ACCESS_TABLE) else {}
        self._refresh_tokens(context, applications, access_ids, refresh_rows)

    # --- applications ----------------------------------------------------------

    def _applications(self, context: ImportContext) -> dict[int, int]:
        """Old application id → Bouncer's, for every application imported now or before."""
        model = get_application_model()
        report = context.report
        mapping: dict[int, int] = {}
        for row in _select(context.source, APP_TABLE, APP_COLUMNS):
            existing = model.objects.filter(client_id=row["client_id"]).only("pk").first()
            if existing is not None:
                mapping[row["id"]] = existing.pk
                report.count(APPLICATIONS, "already present")
                continue
            owner = None
            if row["user_id"] is not None:
                owner = context.users.get(row["user_id"])  # an owner left out leaves the app ownerless
            application = model(
                client_id=row["client_id"],
                name=(row["name"] or "")[:255],
                client_type=row["client_type"],
                authorization_grant_type=row["authorization_grant_type"],
                redirect_uris=row["redirect_uris"] or "",
                post_logout_redirect_uris=row["post_logout_redirect_uris"] or "",
                allowed_origins=row["allowed_origins"] or "",
                skip_authorization=bool(row["skip_authorization"]),
                algorithm=row["algorithm"] or AbstractApplication.NO_ALGORITHM,
                client_secret=row["client_secret"] or "",
                hash_client_secret=True,
                user_id=owner,
            )
            for change in self._made_safe(application, plain_secret=row["hash_client_secret"] is not None and not row["hash_client_secret"]):
                report.warnings.append(f"OAuth2 application {row['client_id']!r} ({application.name or 'unnamed'}): {change}")
            application.save()  # the toolkit's ClientSecretField keeps a hash as it is, hashes a plain secret
            created = source_datetime(row["created"])
            if created is not None:
                model.objects.filter(pk=application.pk).update(created=created)
            mapping[row["id"]] = application.pk
            context.extra.setdefault("oauth_fresh_applications", set()).add(application.pk)
            report.count(APPLICATIONS, "imported")
            if application.skip_authorization:
                report.count(APPLICATIONS, "of them skipping consent")
        return mapping

    @staticmethod
    def _made_safe(application, *, plain_secret: bool) -> list[str]:
        """Bring ``application`` within Bouncer's client rules; what changed, in words."""
        changes = []
        if plain_secret or (application.client_secret and not _is_hash(application.client_secret)):
            application.client_secret = make_password(application.client_secret, hasher=oauth2_settings.CLIENT_SECRET_HASHER)
            changes.append("its client secret was stored in plain text: now stored hashed (the same secret still works)")
        grant = application.authorization_grant_type
        if grant not in CLIENT_GRANT_TYPES:
            application.authorization_grant_type = AbstractApplication.GRANT_AUTHORIZATION_CODE
            changes.append(f"grant {grant!r} is not offered: changed to authorization-code with PKCE (check its redirect URIs)")
        elif application.client_type == AbstractApplication.CLIENT_PUBLIC and grant in (
            AbstractApplication.GRANT_PASSWORD, AbstractApplication.GRANT_CLIENT_CREDENTIALS,
        ):
            application.authorization_grant_type = AbstractApplication.GRANT_AUTHORIZATION_CODE
            changes.append(
                f"posture error: a public client with the {grant} grant (it has no secret to keep). Imported with the "
                "authorization-code grant: its live tokens, refresh included, keep working, but no new sign-in through it "
                "until you register its redirect URIs (public, code + PKCE) or make it confidential in the admin"
            )
        if application.algorithm not in (AbstractApplication.NO_ALGORITHM, AbstractApplication.RS256_ALGORITHM):
            changes.append(f"id_token algorithm {application.algorithm!r} changed to RS256")
            application.algorithm = AbstractApplication.RS256_ALGORITHM
        try:
            oauth_client_check(application=application)
        except ValidationError as exc:  # a rule added later that this function does not know yet
            raise ValueError(f"application {application.client_id!r} still breaks Bouncer's client rules: {exc.messages}") from None
        return changes

    # --- tokens ----------------------------------------------------------------

    def _access_tokens(self, context: ImportContext, applications: dict[int, int], wanted: set[int]) -> dict[int, int]:
        """Live access tokens (and the expired ones a live refresh token points at)."""
        model = get_access_token_model()
        report = context.report
        cap = context.now + timedelta(seconds=oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS)
        mapping: dict[int, int] = {}
        rows = _select(context.source, ACCESS_TABLE, ("id", "token", "token_checksum", "user_id", "application_id", "expires", "scope", "created"))
        for row in rows:
            expires = source_datetime(row["expires"])
            live = expires is not None and expires > context.now
            if not live and row["id"] not in wanted:
                continue  # expired and useless: not counted, as if purged
            checksum = _checksum(row)
            application_id = applications.get(row["application_id"])
            if not checksum or application_id is None:
                report.count(ACCESS, "skipped: no application or checksum")
                continue
            user_id = None
            if row["user_id"] is not None:
                user_id = context.user_for(row["user_id"], item=ACCESS)
                if user_id is None:
                    continue
            elif application_id not in context.extra.get("oauth_fresh_applications", ()):
                # A client's own token (no user) after an earlier run: it may have been revoked since.
                report.count(ACCESS, "skipped: its application was imported by an earlier run")
                continue
            existing = model.objects.filter(token_checksum=checksum).only("pk").first()
            if existing is not None:
                mapping[row["id"]] = existing.pk
                report.count(ACCESS, "already present")
                continue
            token = model(
                user_id=user_id, application_id=application_id, token="", token_checksum=checksum,
                expires=min(expires, cap) if live else expires, scope=row["scope"] or "",
            )
            token.save()
            created = source_datetime(row["created"])
            if created is not None:
                model.objects.filter(pk=token.pk).update(created=created)
            mapping[row["id"]] = token.pk
            report.count(ACCESS, "imported" if live else "imported (expired, for its refresh token)")
        return mapping

    def _refresh_tokens(self, context: ImportContext, applications: dict[int, int], access: dict[int, int], rows: list[dict]) -> None:
        model = get_refresh_token_model()
        report = context.report
        for row in rows:
            checksum = _checksum(row)
            application_id = applications.get(row["application_id"])
            if not checksum or application_id is None:
                report.count(REFRESH, "skipped: no application or checksum")
                continue
            user_id = context.user_for(row["user_id"], item=REFRESH)
            if user_id is None:
                continue
            if model.objects.filter(token_checksum=checksum, revoked__isnull=True).exists():
                report.count(REFRESH, "already present")
                continue
            family = row["token_family"]
            token = model(
                user_id=user_id, application_id=application_id, token="", token_checksum=checksum,
                access_token_id=access.get(row["access_token_id"]),
                # A family per chain, so Bouncer's reuse detection revokes this chain only.
                token_family=uuid.UUID(str(family)) if family else uuid.uuid4(),
            )
            token.save()
            created = source_datetime(row["created"])
            if created is not None:
                model.objects.filter(pk=token.pk).update(created=created)
            report.count(REFRESH, "imported")


def _is_hash(value: str) -> bool:
    try:
        identify_hasher(value)
    except ValueError:
        return False
    return True
