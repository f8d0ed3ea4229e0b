"""Authentication backend: Django's ModelBackend with the user read through the cache.

Sign-in (``authenticate``) is ModelBackend's unchanged: a case-insensitive
lookup (``User.objects.get_by_natural_key``), the hasher run even for unknown
users, inactive users refused after the password check. Only ``get_user`` —
called by the session middleware on every request — reads through
``bouncer.users.usercache``, using the row the session store prefetched
when there is one.
"""

from django.contrib.auth.backends import ModelBackend

from bouncer.users.usercache import user_cache_get, user_cache_prefetched_take


class CachedModelBackend(ModelBackend):
    def get_user(self, user_id):
        # The session store may have fetched the user with the session in one
        # round trip (bouncer.users.sessions); else one cache get (or query).
        user = user_cache_prefetched_take(user_id=user_id) or user_cache_get(user_id=user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
