"""Accounts API: thin views that parse, call one service, and serialize."""

from __future__ import annotations

from django.conf import settings
from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import generics, permissions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from bouncer.core.permissions import OAuth2MethodScope, SameOriginOrNonBrowser
from bouncer.core.schema import ERROR_REF
from bouncer.core.throttling import RegisterThrottle
from bouncer.multifactor.schema import MFA_REQUIRED_RESPONSE
from bouncer.users import selectors, services
from bouncer.users.email.selectors import email_verification_mode
from bouncer.users.models import User
from bouncer.users.permissions import IsSessionAuthenticated
from bouncer.users.serializers import (
    MessageOutput,
    PasswordChangeInput,
    ProfileOutput,
    ProfileUpdateInput,
    SessionLoginInput,
    SessionOutput,
    SessionRevokeOthersOutput,
    UserOutput,
    UserRegisterInput,
)
from bouncer.users.signin import signin_entry_point

#: Built once: a serializer instance deep-copies its declared fields when it
#: is created (~150 us), and the profile is the hottest read there is.
#: ``to_representation`` keeps no state, so sharing it is safe.
PROFILE_OUTPUT = ProfileOutput()

INVALID_CREDENTIALS = inline_serializer("InvalidCredentialsOutput", {"error": serializers.CharField()})


class UserRegisterApi(APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [RegisterThrottle]

    @extend_schema(summary="Register a new account", request=UserRegisterInput, responses={201: UserOutput}, auth=[])
    def post(self, request):
        data = UserRegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(request=request, **data.validated_data)
        if email_verification_mode() == "mandatory":
            # The same body whether the address was new or taken (then no
            # account was made: user is None): no id, which would tell the
            # two apart. The account's id comes with its first sign-in, after
            # the link in the mail (docs/email.md).
            body = {"id": None, "username": data.validated_data["username"], "email": User.objects.normalize_email(data.validated_data["email"]), "is_staff": False}
        else:
            body = UserOutput(user).data
        return Response(body, status=status.HTTP_201_CREATED)


class ProfileApi(APIView):
    # The default permissions (config/settings/drf.py): signed in, and OAuth2
    # tokens need `read` to read the profile and `write` to edit it. Not named
    # here, so the users app imports nothing of the oauth app.

    @extend_schema(summary="Read your profile", responses={200: ProfileOutput})
    def get(self, request):
        return Response(PROFILE_OUTPUT.to_representation(request.user))

    @extend_schema(summary="Edit your profile", request=ProfileUpdateInput, responses={200: ProfileOutput})
    def patch(self, request):
        data = ProfileUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.profile_update(request=request, user=request.user, data=data.validated_data)
        return Response(PROFILE_OUTPUT.to_representation(user))


@signin_entry_point("password_change")
class PasswordChangeApi(APIView):
    @extend_schema(summary="Change your password (ends every other credential)", request=PasswordChangeInput, responses={200: MessageOutput})
    def post(self, request):
        data = PasswordChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_change(request=request, user=request.user, **data.validated_data)
        return Response({"message": "Password changed successfully"})


@signin_entry_point("session")
@method_decorator(ensure_csrf_cookie, name="dispatch")
class SessionLoginApi(APIView):
    # No authentication classes: SessionAuthentication would demand a CSRF
    # token from a caller who already has a session cookie, and login needs
    # no identity. The session key is rotated at every sign-in. Throttles:
    # the sign-in flow's (per address and per account, bouncer.users.signin).
    authentication_classes: list = []
    permission_classes = [SameOriginOrNonBrowser]

    @extend_schema(summary="Sign in with a session cookie", request=SessionLoginInput, responses={200: MessageOutput, 400: INVALID_CREDENTIALS, 401: MFA_REQUIRED_RESPONSE}, auth=[])
    def post(self, request):
        data = SessionLoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        return services.session_login(request=request, **data.validated_data)


def session_signin_finish(*, request, user, options: dict, amr, method: str) -> Response:
    """The end of a session sign-in (registered as the ``session`` finisher: also after a second step)."""
    services.session_establish(request=request, user=user, amr=amr, method=method)
    return Response({"message": "Login successful"})


class SessionLogoutApi(APIView):
    # Every view an OAuth2 token can reach composes the scope check
    # (tests/security/test_oauth_scope_everywhere.py walks the URLconf).
    permission_classes = [permissions.IsAuthenticated & OAuth2MethodScope, IsSessionAuthenticated]

    @extend_schema(summary="Sign out of this session", request=None, responses={200: MessageOutput})
    def post(self, request):
        services.session_logout(request=request)
        return Response({"message": "Logged out successfully"})


@extend_schema_view(get=extend_schema(summary="List users (staff only)"))
class UserListApi(generics.ListAPIView):
    # An OAuth2 token needs `read` here too: an `openid`-only token of a staff
    # user must not list every user's email.
    permission_classes = [permissions.IsAuthenticated & OAuth2MethodScope & permissions.IsAdminUser]
    serializer_class = UserOutput

    def get_queryset(self):
        return selectors.user_list()


class CsrfTokenApi(APIView):
    """Sets the ``csrftoken`` cookie for an SPA before its first unsafe request."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(summary="Get a CSRF cookie", responses={200: inline_serializer("CsrfTokenOutput", {"csrfToken": serializers.CharField()})}, auth=[])
    @method_decorator(ensure_csrf_cookie)
    def get(self, request):
        return Response({"csrfToken": get_token(request)})


class SessionPagination(PageNumberPagination):
    # DRF copies PAGE_SIZE into the class at import; read it per request instead
    # (settings are read at call time everywhere in Bouncer).
    def get_page_size(self, request):
        return settings.REST_FRAMEWORK["PAGE_SIZE"]


class SessionListApi(generics.GenericAPIView):
    """Every live credential of the caller: sessions, DRF tokens, JWT sign-ins, OAuth2 grants."""

    serializer_class = SessionOutput
    pagination_class = SessionPagination

    @extend_schema(summary="List your sessions and devices", responses={200: SessionOutput(many=True)})
    def get(self, request):
        page = self.paginate_queryset(selectors.session_list_for_user(user=request.user, request=request))
        return self.get_paginated_response(SessionOutput(page, many=True).data)


class SessionRevokeApi(APIView):
    @extend_schema(summary="Revoke one of your sessions or devices", request=None, responses={204: None, 404: OpenApiResponse(ERROR_REF, description="`not_found`: no such credential of yours (another user's id answers the same).")})
    def delete(self, request, credential_id: str):
        services.session_revoke(request=request, user=request.user, credential_id=credential_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionRevokeOthersApi(APIView):
    @extend_schema(summary="Sign out everywhere else", request=None, responses={200: SessionRevokeOthersOutput})
    def post(self, request):
        revoked = services.session_revoke_others(request=request, user=request.user)
        return Response({"revoked": revoked})
