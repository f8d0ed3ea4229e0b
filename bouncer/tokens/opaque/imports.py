"""DRF ``authtoken`` keys from a stock Django project → Bouncer device tokens.

DRF keeps each key in plain text (``authtoken_token.key``, 40 hex digits).
Bouncer stores only its SHA-256 (``DeviceToken.digest``), and
``OpaqueTokenAuthentication`` looks a presented ``Token <key>`` up by that
digest whatever the key's shape, so an old key keeps working unchanged. The
plaintext is read, hashed and dropped: never written to Bouncer's database.

An imported token is listed among the user's sessions and devices as
``imported`` and is revoked like any other. DRF tokens never expired; an
imported one expires ``BOUNCER_TOKEN_TTL_HOURS`` after the import, like a
token issued that moment. Only the tokens of users this run imports: a rerun
never brings back a token revoked in Bouncer since (bouncer/core/imports.py).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from bouncer.core.imports import ImportContext, in_batches, source_datetime
from bouncer.tokens.opaque.models import MAX_KEY_LENGTH, DeviceToken, token_digest

ITEM = "DRF tokens"
DEVICE_NAME = "imported"
TABLE = "authtoken_token"


class DrfTokensImport:
    order = 10
    name = "drf_tokens"

    def run(self, *, context: ImportContext, skip_collisions: bool) -> None:
        report = context.report
        if not context.source.has_table(TABLE):
            report.notes.append("no authtoken_token table: the old project issued no DRF tokens")
            return
        expires_at = context.now + timedelta(hours=settings.BOUNCER_TOKEN_TTL_HOURS)
        tokens = []
        for row in context.source.rows(f"SELECT key, created, user_id FROM {TABLE} ORDER BY created"):
            key = row["key"] or ""
            if not key or len(key) > MAX_KEY_LENGTH or not key.isascii():
                report.count(ITEM, "skipped: not a key Bouncer accepts in a header")
                continue
            user_id = context.user_for(row["user_id"], item=ITEM)  # a user this run created: no token yet
            if user_id is None:
                continue
            created = source_datetime(row["created"]) or context.now
            tokens.append(DeviceToken(
                user_id=user_id, digest=token_digest(key), prefix=key[:8], device_name=DEVICE_NAME,
                created_at=min(created, context.now), expires_at=expires_at, last_used_at=None,
            ))
        known = set()
        for batch in in_batches([token.digest for token in tokens]):
            known.update(DeviceToken.objects.filter(digest__in=batch).values_list("digest", flat=True))
        fresh = [token for token in tokens if token.digest not in known]
        report.count(ITEM, "already present", len(tokens) - len(fresh))
        # bulk_create sends no post_save: none is needed, a new row has no cache entry to drop.
        for batch in in_batches(fresh):
            DeviceToken.objects.bulk_create(batch)
        report.count(ITEM, "imported", len(fresh))
