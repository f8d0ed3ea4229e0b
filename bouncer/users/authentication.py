"""HTTP Basic authentication, accepted only when ``BOUNCER_BASIC_AUTH_ENABLED``.

Basic sends the password with every request and runs the password hasher on
every request, so it is meant for tests and scripts. The switch is read at
call time: when off, this class returns ``None`` and the request is treated as
carrying no credential of ours.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.authentication import BasicAuthentication


class OptionalBasicAuthentication(BasicAuthentication):
    www_authenticate_realm = "bouncer"

    def authenticate(self, request):
        if not settings.BOUNCER_BASIC_AUTH_ENABLED:
            return None
        return super().authenticate(request)
