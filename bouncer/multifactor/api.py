"""``/api/auth/mfa/``: the second sign-in step (and, in its own modules, the factors' management)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from bouncer.core.permissions import SameOriginOrNonBrowser
from bouncer.multifactor import services
from bouncer.multifactor.serializers import MfaAuthenticateInput, MfaRequiredOutput, MfaTokenInput
from bouncer.users.signin import signin_entry_point, signin_issue

MFA_REQUIRED_RESPONSE = OpenApiResponse(MfaRequiredOutput, description="A second factor is owed: `mfa_required` or `mfa_enrolment_required`.")


@signin_entry_point("mfa")
class MfaAuthenticateApi(APIView):
    """Complete a sign-in that answered 401 ``mfa_required``: the credential first asked for, with ``amr``."""

    # No identity yet: the mfa_token is the proof of the first step. Throttles:
    # per address (``mfa``) and per account, and wrong codes count toward the lockout.
    authentication_classes: list = []
    permission_classes = [SameOriginOrNonBrowser]

    @extend_schema(
        operation_id="mfa_authenticate",
        request=MfaAuthenticateInput,
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="What the first step asked for: the session login's, /api/auth-token/'s or /api/token/'s answer."),
            400: OpenApiResponse(description="`mfa_code_invalid`, `webauthn_invalid`, `mfa_enrolment_incomplete`, or field errors."),
            401: OpenApiResponse(description="`mfa_token_invalid`: expired, spent, or too many wrong codes: sign in again."),
            429: OpenApiResponse(description="Throttled, or the account is locked."),
        },
        auth=[],
    )
    def post(self, request):
        data = MfaAuthenticateInput(data=request.data)
        data.is_valid(raise_exception=True)
        step = services.mfa_authenticate(
            request=request, raw=data.validated_data["mfa_token"], code=data.validated_data.get("code"), credential=data.validated_data.get("credential")
        )
        return signin_issue(request=request, user=step.user, issue=step.issue, options=step.options, amr=step.amr, method=step.method)


class MfaWebAuthnBeginApi(APIView):
    """Options for ``navigator.credentials.get()`` to answer a sign-in's second step with a security key."""

    authentication_classes: list = []
    permission_classes = [SameOriginOrNonBrowser]

    @extend_schema(
        operation_id="mfa_webauthn_begin",
        request=MfaTokenInput,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="`{\"publicKey\": ...}` for navigator.credentials.get()."), 401: None},
        auth=[],
    )
    def post(self, request):
        data = MfaTokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(services.mfa_webauthn_begin(raw=data.validated_data["mfa_token"]))
