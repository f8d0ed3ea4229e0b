"""Authentication backend: Django's ModelBackend with the user read through the cache.

Sign-in (``authenticate``) is ModelBackend's check — a case-insensitive
lookup (``User.objects.get_by_natural_key``), the hasher run even for unknown
users, inactive users refused after the password check — inside the sign-in
flow's guard (``bouncer.users.signin.signin_guard``: throttles, lockout,
audit). The guard is here because every caller of ``authenticate()`` lands
here (the admin's login form, DRF's Basic, any library), so none can skip it.
``get_user`` — called by the session middleware on every request — reads
through ``bouncer.users.usercache``, using the row the session store
prefetched when there is one.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from bouncer.users.signin import signin_guard
from bouncer.users.usercache import user_cache_get, user_cache_prefetched_take


class CachedModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        return signin_guard(
            request=request,
            username=username,
            verify=lambda: super(CachedModelBackend, self).authenticate(request, username=username, password=password, **kwargs),
        )

    def get_user(self, user_id):
        # The session store may have fetched the user with the session in one
        # round trip (bouncer.users.sessions); else one cache get (or query).
        user = user_cache_prefetched_take(user_id=user_id) or user_cache_get(user_id=user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
