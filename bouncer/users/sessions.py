"""Session engine: Django's ``cached_db`` plus the user in the same round trip.

A session request needs two cache entries: the session, then the user whose
id is inside it — two sequential Redis round trips, the largest cost left on
the session hot path (docs/performance.md). This store remembers, per worker
process, which user a session key belonged to last time, and then fetches
the session *and* that user's cached row with one ``get_many``. The user row
is used only if the session read in that same round trip still names that
user; otherwise (first request of a session on this worker, a miss, a
mismatch) nothing is prefetched and the backend reads the user as usual.
Both values come from the cache at the same moment, so nothing here can be
staler than the two separate reads would be.

Everything else — writes, expiry, the database fallback — is ``cached_db``'s.
With the auth cache off (no Redis) every load reads the row, as the ``db``
engine does, joined with its user (one query for both): an in-process cache
cannot learn that another worker or node revoked the session.

Rows are ``UserSession`` (Django's documented seam: ``get_model_class`` and
``create_model_instance``), with the user, the address and user agent at
sign-in and a coarse "last used" as columns, so a user's sessions can be
listed and revoked (``SessionCredentials``, registered with
bouncer.core.credentials). Those values live in the session data too
(``META_KEY``, ``SEEN_KEY``) because the engine rewrites the whole row from the
data on every save. "Last used" is bumped in the data when a load finds it
older than ``LAST_USED_RESOLUTION_SECONDS``, which makes the middleware save
the session once: at most one write per session per few minutes, never one
per request.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore
from django.core.cache import caches
from django.http import HttpRequest
from django.utils import timezone

from bouncer.audit.models import AuditAction
from bouncer.audit.services import audit_record
from bouncer.core import assurance, credentials
from bouncer.core.exceptions import CACHE_ERRORS
from bouncer.core.http import client_ip
from bouncer.core.modelcache import cache_tombstones_write, cache_unreachable, model_snapshot
from bouncer.users.usercache import auth_cache_enabled, user_cache_key, user_cache_prefetched_set

#: Session-data keys: {"ip", "ua", "at"} written at sign-in, and the last-used epoch.
META_KEY = "_bouncer_meta"
SEEN_KEY = "_bouncer_seen"
USER_AGENT_MAX = 256

#: session key -> user id, per worker process; only a hint, checked every time.
_HINTS: dict[str, str] = {}
_MAX_HINTS = 50_000


def _from_epoch(value) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def session_sign_in_record(*, request: HttpRequest) -> None:
    """Keep where, when and how this session signed in, inside its data (see module doc).

    The expiry is pinned to sign-in + ``SESSION_COOKIE_AGE``: Django moves a
    relative expiry forward at every save, and "last used" saves the session
    every few minutes, which would otherwise turn the lifetime into an idle
    timeout that an active session never reaches.

    Runs on ``user_logged_in``, so for every ``login()`` whoever calls it
    (the admin's form, a social provider's callback, ``Client.force_login``).
    The amr is reset to the least a sign-in proves, a password: a sign-in
    inside a live session of the same user keeps the session's data, and an
    earlier sign-in's ``mfa`` must not survive into one that proved less.
    The callers that know more write it right after ``login()``
    (``services.session_establish``, the social callback).
    """
    signed_in = timezone.now()
    now = int(signed_in.timestamp())
    request.session.set_expiry(signed_in + timedelta(seconds=settings.SESSION_COOKIE_AGE))
    request.session[META_KEY] = {
        "ip": client_ip(request) or "",
        "ua": request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX],
        "at": now,
    }
    request.session[SEEN_KEY] = now
    request.session[assurance.SESSION_AMR_KEY] = [assurance.PWD]


class SessionStore(CachedDBStore):
    @classmethod
    def get_model_class(cls):
        from bouncer.users.models import UserSession  # models import this module's class lazily

        return UserSession

    def create_model_instance(self, data):
        obj = super().create_model_instance(data)
        try:
            obj.user_id = int(data[SESSION_KEY])
        except (KeyError, TypeError, ValueError):
            obj.user_id = None
        meta = data.get(META_KEY) if isinstance(data.get(META_KEY), dict) else {}
        obj.ip_address = meta.get("ip") or None
        obj.user_agent = str(meta.get("ua", ""))[:USER_AGENT_MAX]
        obj.created_at = _from_epoch(meta.get("at"))
        obj.last_used_at = _from_epoch(data.get(SEEN_KEY)) or obj.created_at
        obj.amr = assurance.amr_stored(assurance.amr_or_password(data.get(assurance.SESSION_AMR_KEY))) if obj.user_id else ""
        return obj

    def load(self):
        data = self._load_with_user()
        if SESSION_KEY in data:
            now = int(timezone.now().timestamp())
            seen = data.get(SEEN_KEY)
            if not isinstance(seen, int) or now - seen >= credentials.LAST_USED_RESOLUTION_SECONDS:
                data[SEEN_KEY] = now
                self.modified = True  # SessionMiddleware saves it once, at the end of this request
        return data

    def _load_with_user(self):
        user_cache_prefetched_set(user_id=None, snapshot=None)
        session_key = self.session_key
        if not auth_cache_enabled():
            # No cache shared by every process (no Redis): a session revoked
            # by another worker or node deleted its row and only *that*
            # process's cached copy, so a copy here may be of a dead session.
            # Read the row (the ``db`` engine's load), never this process's copy.
            return self._load_row_with_user()
        if not session_key:
            return self._load_cached()
        hinted_user = _HINTS.get(session_key)
        data = None
        if hinted_user is not None:
            user_key = user_cache_key(hinted_user)
            try:
                found = self._cache.get_many([self.cache_key, user_key])
            except Exception:  # same tolerance as cached_db: treat as a miss
                found = {}
            data = found.get(self.cache_key)
            if not isinstance(data, dict):  # a miss, or a revoked session's tombstone
                data = None
            if data is not None and str(data.get(SESSION_KEY)) == hinted_user:
                user_cache_prefetched_set(user_id=hinted_user, snapshot=found.get(user_key))
        if data is None:
            data = self._load_cached()
        user_id = data.get(SESSION_KEY)
        if user_id is not None:
            if len(_HINTS) >= _MAX_HINTS:
                _HINTS.clear()
            _HINTS[session_key] = str(user_id)
        return data

    def save(self, must_create=False):
        super().save(must_create)
        # ``cached_db`` writes the row, then the cache: a revocation that deleted
        # the row and left its tombstone in between is overwritten by this copy,
        # which would then outlive the session for SESSION_COOKIE_AGE. Saves are
        # rare (sign-in, "last used" every few minutes), so look once: if the row
        # is gone, leave the tombstone again. Without the auth cache the copy is
        # never read (``load``), so there is nothing to undo.
        if auth_cache_enabled() and not self.model.objects.filter(session_key=self.session_key).exists():
            session_cache_delete(session_keys=[self.session_key])

    def _load_row_with_user(self):
        """The ``db`` engine's load, joined with the user the row names: one query for
        the session and its user when there is no cache (the row's ``user`` column
        is written from the same data, so it names the same user)."""
        try:
            row = self.model.objects.select_related("user").get(session_key=self.session_key, expire_date__gt=timezone.now())
        except self.model.DoesNotExist:
            self._session_key = None  # as DBStore: an unknown key is dropped
            return {}
        data = self.decode(row.session_data)
        if row.user is not None and str(data.get(SESSION_KEY)) == str(row.user_id):
            user_cache_prefetched_set(user_id=row.user_id, snapshot=model_snapshot(row.user))
        return data

    def _load_cached(self):
        """``cached_db``'s load, but a copy read from the row is stored with ``add``
        and a tombstone counts as a miss: a request that read the row just before
        a revocation committed cannot put the revoked session back into the cache,
        where it would live for SESSION_COOKIE_AGE (``session_cache_delete`` leaves
        the tombstone; the same rule as bouncer.core.modelcache.cache_fill).
        Django's engine has no hook for this, hence the copy of its ten lines."""
        try:
            data = self._cache.get(self.cache_key)
        except Exception:  # as cached_db: some backends raise on odd keys; a miss
            data = None
        if isinstance(data, dict):
            return data
        row = self._get_session_from_db()
        if row is None:
            return {}
        data = self.decode(row.session_data)
        try:
            self._cache.add(self.cache_key, data, self.get_expiry_age(expiry=row.expire_date))
        except CACHE_ERRORS as exc:  # Redis down: the row was read, the next load reads it again
            cache_unreachable("session fill", exc)
        return data

    def delete(self, session_key=None):
        """``cached_db``'s delete: the row (its ``post_delete`` receiver tombstones the
        cached copy inside the delete's transaction, or refuses it with a 503 when
        Redis does not answer), then the cache entry. That last delete is only
        tidying up after the tombstone: if Redis went away in between, the
        logout still happened, so it is logged rather than answered as a 503."""
        try:
            super().delete(session_key)
        except CACHE_ERRORS as exc:
            cache_unreachable("session delete after its tombstone", exc)


def session_cache_delete(*, session_keys) -> None:
    """Replace the cached copies of deleted session rows by tombstones (a ``post_delete``
    receiver calls it), so a request that read the row before the delete committed
    cannot cache it again (``SessionStore._load_cached`` only ``add``s)."""
    # Again after commit (inside cache_tombstones_write): a request that missed the
    # cache before the delete committed may have filled it before the first
    # tombstone landed. Redis unreachable: ServiceUnavailable, the delete rolls back.
    keys = [SessionStore(session_key=key).cache_key for key in session_keys]
    cache_tombstones_write(keys, cache_backend=caches[settings.SESSION_CACHE_ALIAS])


class SessionCredentials:
    """Browser sessions in the credential registry (bouncer.core.credentials)."""

    name = "session"

    def _live(self, *, user):
        return SessionStore.get_model_class().objects.filter(user=user, expire_date__gt=timezone.now())

    def list_for_user(self, *, user) -> list[credentials.Credential]:
        rows = self._live(user=user).values_list(
            "session_key", "user_agent", "ip_address", "created_at", "last_used_at", "expire_date", "amr"
        )
        return [
            credentials.Credential(
                kind=self.name, key=key, device=agent, address=address or "",
                created_at=created or expires, last_used_at=used, amr=assurance.amr_or_password(amr),
            )
            for key, agent, address, created, used, expires, amr in rows
        ]

    def current_key(self, *, request: HttpRequest) -> str | None:
        from rest_framework.authentication import SessionAuthentication

        authenticator = getattr(request, "successful_authenticator", None)
        if authenticator is not None and not isinstance(authenticator, SessionAuthentication):
            return None
        session = getattr(request, "session", None)
        if session is None or not session.session_key or SESSION_KEY not in session:
            return None
        return session.session_key

    def current_amr(self, *, request: HttpRequest) -> tuple[str, ...] | None:
        # The session's own data, already loaded to authenticate: no read.
        if self.current_key(request=request) is None:
            return None
        return assurance.amr_or_password(request.session.get(assurance.SESSION_AMR_KEY))

    def revoke(self, *, user, key: str, request: HttpRequest | None, reason: str) -> bool:
        if request is not None and self.current_key(request=request) == key:
            # Its own session: flush it, or the middleware would save it back.
            request.session.flush()
            count = 1
        else:
            count, _ = self._live(user=user).filter(session_key=key).delete()
        if count:
            audit_record(action=AuditAction.LOGOUT, request=request, user=user, method="session", data={"reason": reason})
        return bool(count)

    def revoke_all(self, *, user, request: HttpRequest | None, reason: str, keep: str | None = None) -> int:
        rows = SessionStore.get_model_class().objects.filter(user=user)
        if keep is not None:
            rows = rows.exclude(session_key=keep)
        count, _ = rows.delete()  # post_delete drops each cached copy
        if count:
            audit_record(action=AuditAction.LOGOUT, request=request, user=user, method="session", data={"count": count, "reason": reason})
        return count
