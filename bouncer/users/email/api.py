"""dj-rest-auth's password-reset and email-verification endpoints: parse, call one service, answer.

Same paths, bodies and success answers as dj-rest-auth, so an SPA written
against it works unchanged. No authentication classes (anonymous flows; a
session cookie must not demand a CSRF token here), and a cross-site browser
POST is refused (``SameOriginOrNonBrowser``: another site cannot make a
visitor's browser send reset mails). Throttles are the services' own (per
client address and per address typed or account), 429 with ``Retry-After``.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from bouncer.core.permissions import SameOriginOrNonBrowser
from bouncer.users.email import services
from bouncer.users.email.serializers import (
    DetailOutput,
    EmailVerifyInput,
    EmailVerifyResendInput,
    PasswordResetConfirmInput,
    PasswordResetInput,
)

RESET_SENT = "Password reset e-mail has been sent."
RESET_DONE = "Password has been reset with the new password."


class _AnonymousApi(APIView):
    authentication_classes: list = []
    permission_classes = [SameOriginOrNonBrowser]


class PasswordResetApi(_AnonymousApi):
    @extend_schema(summary="Ask for a password reset email", request=PasswordResetInput, responses={200: DetailOutput}, auth=[])
    def post(self, request):
        data = PasswordResetInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_request(request=request, email=data.validated_data["email"])
        return Response({"detail": RESET_SENT})


class PasswordResetConfirmApi(_AnonymousApi):
    @extend_schema(summary="Set a new password with a reset link's uid and token", request=PasswordResetConfirmInput, responses={200: DetailOutput}, auth=[])
    def post(self, request):
        data = PasswordResetConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_confirm(request=request, **data.validated_data)
        return Response({"detail": RESET_DONE})


class EmailVerifyApi(_AnonymousApi):
    @extend_schema(summary="Verify an email address with the mailed key", request=EmailVerifyInput, responses={200: DetailOutput}, auth=[])
    def post(self, request):
        data = EmailVerifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.email_verify(request=request, key=data.validated_data["key"])
        return Response({"detail": "ok"})


class EmailVerifyResendApi(_AnonymousApi):
    @extend_schema(summary="Send the verification email again", request=EmailVerifyResendInput, responses={200: DetailOutput}, auth=[])
    def post(self, request):
        data = EmailVerifyResendInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.email_verification_resend(request=request, email=data.validated_data["email"])
        return Response({"detail": "ok"})
