"""DRF token login and logout (``/api/auth-token/``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import NotAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from bouncer.core.permissions import SameOriginOrNonBrowser
from bouncer.multifactor.schema import MFA_REQUIRED_RESPONSE
from bouncer.tokens.opaque import services
from bouncer.tokens.opaque.authentication import OpaqueTokenAuthentication
from bouncer.tokens.opaque.models import DeviceToken
from bouncer.tokens.opaque.serializers import TokenLoginInput, TokenLoginOutput
from bouncer.users.api import INVALID_CREDENTIALS
from bouncer.users.signin import signin_entry_point, signin_finish, signin_password


def token_login_response(*, user, issued: services.IssuedToken) -> Response:
    """The answer of every DRF token sign-in (``/api/auth-token/``, social sign-in)."""
    body = {"token": issued.key, "user_id": user.pk, "username": user.username, "email": user.email, "expiry": issued.expiry}
    return Response(TokenLoginOutput(body).data)


@signin_entry_point("token")
class TokenLoginApi(APIView):
    # Throttles: the sign-in flow's (per address, scope "token", and per account).
    authentication_classes: list = []
    permission_classes = [SameOriginOrNonBrowser]

    @extend_schema(summary="Get a DRF token for a device", request=TokenLoginInput, responses={200: TokenLoginOutput, 400: INVALID_CREDENTIALS, 401: MFA_REQUIRED_RESPONSE}, auth=[])
    def post(self, request):
        data = TokenLoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = signin_password(
            request=request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
            method="token",
            address_scope="token",
        )
        return signin_finish(request=request, result=result, method="token", issue="token", options={"device_name": data.validated_data["device_name"]})


def token_signin_finish(*, request, user, options: dict, amr, method: str) -> Response:
    """The end of a DRF token sign-in (the ``token`` finisher: /api/auth-token/, social sign-in, after a second step)."""
    issued = services.token_issue(user=user, request=request, device_name=options.get("device_name", ""), amr=amr)
    return token_login_response(user=user, issued=issued)


class TokenLogoutApi(APIView):
    """Revokes the token the request was made with; only a token can log itself out."""

    authentication_classes = [OpaqueTokenAuthentication]
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(summary="Revoke the DRF token of this request", request=None, responses={204: None})
    def post(self, request):
        if not isinstance(request.auth, DeviceToken):
            raise NotAuthenticated()
        services.token_revoke(token=request.auth, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)
