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
With the auth cache off it behaves exactly like ``cached_db``.
"""

from __future__ import annotations

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore

from bouncer.users.usercache import auth_cache_enabled, user_cache_key, user_cache_prefetched_set

#: session key -> user id, per worker process; only a hint, checked every time.
_HINTS: dict[str, str] = {}
_MAX_HINTS = 50_000


class SessionStore(CachedDBStore):
    def load(self):
        user_cache_prefetched_set(user_id=None, snapshot=None)
        session_key = self.session_key
        if not auth_cache_enabled() or not session_key:
            return super().load()
        hinted_user = _HINTS.get(session_key)
        data = None
        if hinted_user is not None:
            user_key = user_cache_key(hinted_user)
            try:
                found = self._cache.get_many([self.cache_key, user_key])
            except Exception:  # same tolerance as cached_db: treat as a miss
                found = {}
            data = found.get(self.cache_key)
            if data is not None and str(data.get(SESSION_KEY)) == hinted_user:
                user_cache_prefetched_set(user_id=hinted_user, snapshot=found.get(user_key))
        if data is None:
            data = super().load()
        user_id = data.get(SESSION_KEY)
        if user_id is not None:
            if len(_HINTS) >= _MAX_HINTS:
                _HINTS.clear()
            _HINTS[session_key] = str(user_id)
        return data
