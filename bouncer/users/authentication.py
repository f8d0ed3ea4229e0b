"""HTTP Basic authentication, accepted only when ``BOUNCER_BASIC_AUTH_ENABLED``.

Basic sends the password with every request and runs the password hasher on
every request, so it is meant for tests and scripts. The switch is read at
call time: when off, this class returns ``None`` and the request is treated as
carrying no credential of ours.

Each request is a sign-in through the sign-in flow (``bouncer.users.signin``)
as a per-request credential: it is refused (429) while the account or the
address is throttled or the account locked, and its failures count toward
both throttles and the lockout, like any other sign-in's. Successes do not
use up the throttles, or a script could not make more than a handful of
requests a minute.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BasicAuthentication


class OptionalBasicAuthentication(BasicAuthentication):
    www_authenticate_realm = "bouncer"
    #: How every Basic request signs in (bouncer.core.credentials.credential_amr): a password,
    #: and only a password (a user with a second factor gets no user from Basic).
    amr = ("pwd",)

    def authenticate(self, request):
        if not settings.BOUNCER_BASIC_AUTH_ENABLED:
            return None
        return super().authenticate(request)

    def authenticate_credentials(self, userid, password, request=None):
        # DRF's own check calls authenticate(), which lands in the flow's
        # guard; the attempt tells the guard it is Basic and reads its verdict.
        # Imported here: DRF imports this class while rest_framework.views
        # loads, before bouncer.core.exceptions (which the flow uses) can.
        from bouncer.users.signin import EmailUnverified, signin_attempt

        with signin_attempt(method="basic", address_scope="login", per_request=True) as attempt:
            try:
                return super().authenticate_credentials(userid, password, request)
            except exceptions.AuthenticationFailed:
                if isinstance(attempt.refusal, EmailUnverified):
                    raise exceptions.AuthenticationFailed(attempt.refusal.default_detail, code=attempt.refusal.code) from None
                if attempt.refusal is not None:
                    raise exceptions.Throttled(wait=attempt.refusal.retry_after) from None
                raise
