"""JWT endpoints: ``/api/token/``, ``refresh/``, ``verify/``, ``blacklist/``, and the JWKS."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from bouncer.core.exceptions import InvalidCredentials
from bouncer.core.permissions import SameOriginOrNonBrowser
from bouncer.core.schema import ERROR_REF
from bouncer.core.throttling import RefreshThrottle
from bouncer.tokens.jwt import services
from bouncer.tokens.jwt.authentication import JwtAuthentication
from bouncer.tokens.jwt.cookies import clear_token_cookies, set_token_cookies
from bouncer.tokens.jwt.keys import jwks
from bouncer.tokens.jwt.serializers import (
    JwtCookieOutput,
    JwtObtainInput,
    JwtPairOutput,
    JwtRefreshInput,
    JwtVerifyInput,
)
from bouncer.users.api import INVALID_CREDENTIALS
from bouncer.users.signin import signin_entry_point, signin_finish, signin_password


class JwtObtainFailed(InvalidCredentials):
    """The generic failure, answered 401 with ``WWW-Authenticate`` (core/exceptions.py)."""

    status_code = 401

    def __init__(self) -> None:
        super().__init__()
        self.www_authenticate = JwtAuthentication().authenticate_header(None)


def jwt_pair_response(pair: services.TokenPair, *, cookie: bool) -> Response:
    """The answer of every JWT sign-in (``/api/token/``, social sign-in) and refresh: the pair, or cookies."""
    if not cookie:
        return Response({"access": pair.access, "refresh": pair.refresh})
    response = Response(JwtCookieOutput({"access_expires": pair.access_expires, "refresh_expires": pair.refresh_expires}).data)
    set_token_cookies(response, pair)
    return response


def _refresh_from(request) -> tuple[str, bool]:
    """The refresh token from the body, else from the cookie (cookie mode)."""
    body = request.data
    token = body.get("refresh") if hasattr(body, "keys") and set(body.keys()) == {"refresh"} else None
    if isinstance(token, str) and 0 < len(token) <= 8192 and token.isascii() and token.isprintable() and token == token.strip():
        # The common case, decided without building the serializer: one field,
        # a plain string that JwtRefreshInput would return unchanged (its
        # per-character surrogate check alone was ~3% of a refresh). Anything
        # else goes through the serializer, so its errors keep their shape.
        return token, False
    data = JwtRefreshInput(data=body)
    data.is_valid(raise_exception=True)
    if data.validated_data.get("refresh"):
        return data.validated_data["refresh"], False
    cookie = request.COOKIES.get(settings.BOUNCER_JWT["REFRESH_COOKIE"])
    if not cookie:
        raise services.JwtRejected("token_missing", "No refresh token in the body or the refresh cookie.")
    return cookie, True


def jwt_signin_finish(*, request, user, options: dict, amr, method: str) -> Response:
    """The end of a JWT sign-in (the ``jwt`` finisher: /api/token/, social sign-in, after a second step)."""
    try:
        pair = services.jwt_obtain(user=user, request=request, amr=amr)
    except InvalidCredentials:
        # A lifecycle event (password change, deactivation) overtook the sign-in before the issue.
        raise JwtObtainFailed() from None
    return jwt_pair_response(pair, cookie=bool(options.get("cookie")))


TOKEN_REFUSED = OpenApiResponse(
    ERROR_REF,
    description="The token is missing (`token_missing`) or refused: `token_invalid`, `token_expired`, "
    "`token_not_yet_valid`, `token_revoked`, `token_wrong_type`.",
)
REFRESH_REFUSED = OpenApiResponse(
    ERROR_REF,
    description="No refresh token in the body or the refresh cookie (`token_missing`), or it is refused: `token_invalid`, "
    "`token_expired`, `token_revoked` (also a replay of a rotated one, which revokes its whole sign-in), `token_wrong_type`.",
)


@signin_entry_point("jwt")
class JwtObtainApi(APIView):
    # Throttles: the sign-in flow's (per address, scope "token", and per account).
    authentication_classes: list = []
    permission_classes = [SameOriginOrNonBrowser]

    @extend_schema(summary="Get a JWT access and refresh pair", request=JwtObtainInput, responses={200: JwtPairOutput, 401: INVALID_CREDENTIALS}, auth=[])
    def post(self, request):
        data = JwtObtainInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = signin_password(
                request=request,
                username=data.validated_data["username"],
                password=data.validated_data["password"],
                method="jwt",
                address_scope="token",
            )
        except InvalidCredentials:
            # SPEC.md: 401, as simplejwt answers, with the Bearer challenge
            # the JWT class sends for any other bad credential.
            raise JwtObtainFailed() from None
        return signin_finish(request=request, result=result, method="jwt", issue="jwt", options={"cookie": data.validated_data["cookie"]})


class JwtRefreshApi(APIView):
    authentication_classes: list = []
    permission_classes = [SameOriginOrNonBrowser]
    throttle_classes = [RefreshThrottle]

    @extend_schema(summary="Rotate a refresh token", request=JwtRefreshInput, responses={200: JwtPairOutput, 401: REFRESH_REFUSED}, auth=[])
    def post(self, request):
        raw, cookie = _refresh_from(request)
        return jwt_pair_response(services.jwt_refresh(raw=raw, request=request), cookie=cookie)


class JwtVerifyApi(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(summary="Verify a JWT", request=JwtVerifyInput, responses={200: None, 401: TOKEN_REFUSED}, auth=[])
    def post(self, request):
        data = JwtVerifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.jwt_verify(raw=data.validated_data["token"])
        return Response({})


class JwtLogoutApi(APIView):
    authentication_classes: list = []
    permission_classes = [SameOriginOrNonBrowser]

    @extend_schema(summary="Retire a refresh token (JWT sign-out)", request=JwtRefreshInput, responses={200: None, 401: REFRESH_REFUSED}, auth=[])
    def post(self, request):
        raw, cookie = _refresh_from(request)
        services.jwt_logout(raw=raw, request=request)
        response = Response({})
        if cookie:
            clear_token_cookies(response)
        return response


@require_GET
@cache_control(public=True, max_age=300)
def jwks_view(request):
    """Public keys for services that verify Bouncer's JWTs themselves."""
    return JsonResponse(jwks())
