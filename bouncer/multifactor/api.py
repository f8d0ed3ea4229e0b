"""``/api/auth/mfa/``: the second sign-in step (and, in its own modules, the factors' management); ``/api/auth/passkey/``."""

from __future__ import annotations

from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from bouncer.core.permissions import OAuth2MethodScope, SameOriginOrNonBrowser
from bouncer.core.schema import error_schema
from bouncer.multifactor import factors, passkeys, selectors, services, stepup
from bouncer.multifactor.permissions import EnrolmentCaller, FactorManagingCredential
from bouncer.multifactor.serializers import (
    MfaAuthenticateInput,
    MfaEnrolmentInput,
    MfaFactorEnrolledOutput,
    MfaFactorOutput,
    MfaFactorRenameInput,
    MfaRecoveryCodesOutput,
    MfaStepUpInput,
    MfaStepUpOutput,
    MfaStepUpWebAuthnOutput,
    MfaTokenInput,
    MfaTotpConfirmInput,
    MfaTotpSetupOutput,
    MfaWebAuthnOptionsOutput,
    MfaWebAuthnRegisterBeginInput,
    MfaWebAuthnRegisterInput,
    PasskeyBeginOutput,
    PasskeySigninInput,
)
from bouncer.users.signin import signin_entry_point, signin_finish, signin_issue


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


# --- factor management -----------------------------------------------------------
#
# Thin views over factors.py and stepup.py (the Security pages call the same
# services). Signed in with a session, a DRF token or a JWT; OAuth2 tokens and
# Basic are refused (permissions.py). The enrolment endpoints also take the
# ``mfa_token`` of a sign-in that must enrol first, instead of a credential.


#: The credentials that manage factors (OpenAPI security requirements).
MANAGING_AUTH = [{"jwtAuth": []}, {"tokenAuth": []}, {"sessionAuth": []}]
#: ... or, on the enrolment endpoints, none: an ``mfa_token`` in the body.
ENROLMENT_AUTH = [*MANAGING_AUTH, {}]


def _errors(**described: str) -> dict:
    """OpenAPI error answers, ``{"detail", "code"}`` (the shared ``Error`` component); keys like ``e400``."""
    return {int(key[1:]): OpenApiResponse(error_schema(int(key[1:])), description=text) for key, text in described.items()}


_UNAUTHENTICATED = "Not signed in (or a bad credential)."
_REFUSED = "`credential_not_allowed`: an OAuth2 access token or Basic; `permission_denied`: a cross-site browser request."
_ENROL_401 = "Not signed in and no `mfa_token`; or `mfa_token_invalid`: expired, spent, or the account got a factor since."
_STEP_UP = "`step_up_required`: verify a factor at /api/auth/mfa/step-up/ first (this credential, lately)."
MANAGING_PERMISSIONS = [IsAuthenticated & OAuth2MethodScope & FactorManagingCredential]
ENROLMENT_PERMISSIONS = [OAuth2MethodScope & EnrolmentCaller]


def _enrolling(request, data, *, begin: bool = False) -> tuple:
    """(user, enrolment challenge or None): the mfa_token's user, else the signed-in one.

    Starting to add a factor to an account that has one needs a recent
    step-up (of this credential): else whoever stole a token could plant a
    passkey of their own and keep the account after the token is revoked.
    """
    user, enrolment = factors.enrolment_user(request_user=request.user, mfa_token=data.validated_data.get("mfa_token"))
    if begin and enrolment is None:
        stepup.step_up_check(request=request, user=user)
    return user, enrolment


def _enrolled(request, user, enrolment, factor, codes) -> Response:
    if enrolment is None:
        stepup.step_up_grant(request=request, user=user)
    return Response({**selectors.factor_describe(factor), "recovery_codes": codes}, status=status.HTTP_201_CREATED)


def _valid(serializer_class, request):
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data


class MfaFactorListApi(APIView):
    """The caller's factors: TOTP, security keys and passkeys, recovery codes (how many are left, never the codes)."""

    permission_classes = MANAGING_PERMISSIONS

    @extend_schema(
        operation_id="mfa_factor_list",
        responses={200: MfaFactorOutput(many=True), **_errors(e401=_UNAUTHENTICATED, e403=_REFUSED)},
        auth=MANAGING_AUTH,
    )
    def get(self, request):
        return Response([selectors.factor_describe(factor) for factor in selectors.factor_list_for_user(user=request.user)])


class MfaFactorApi(APIView):
    """Rename a security key or passkey; remove any factor (after a step-up)."""

    permission_classes = MANAGING_PERMISSIONS

    @extend_schema(
        operation_id="mfa_factor_rename",
        description="Rename one of your security keys or passkeys.",
        request=MfaFactorRenameInput,
        responses={
            200: MfaFactorOutput,
            **_errors(
                e400="Field errors; `factor_not_renamable`: only security keys and passkeys have names.",
                e401=_UNAUTHENTICATED,
                e403=_REFUSED,
                e404="`not_found`: no such factor of yours.",
            ),
        },
        auth=MANAGING_AUTH,
    )
    def patch(self, request, factor_id: str):
        data = _valid(MfaFactorRenameInput, request)
        factor = factors.factor_rename(user=request.user, factor_id=factor_id, name=data.validated_data["name"])
        return Response(selectors.factor_describe(factor))

    @extend_schema(
        operation_id="mfa_factor_remove",
        description="Remove one of your factors. Needs a recent step-up of this credential; "
        "the last authenticator app or key of an account that must have one is kept (409).",
        request=None,
        responses={
            204: None,
            **_errors(
                e401=_UNAUTHENTICATED,
                e403=f"{_STEP_UP} Or {_REFUSED}",
                e404="`not_found`: no such factor of yours.",
                e409="`last_factor_required`: a second factor is required for this account; add another first.",
            ),
        },
        auth=MANAGING_AUTH,
    )
    def delete(self, request, factor_id: str):
        stepup.step_up_check(request=request, user=request.user)
        factors.factor_remove(request=request, user=request.user, factor_id=factor_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MfaTotpSetupApi(APIView):
    """Start setting up an authenticator app: a new secret, its otpauth:// URI and QR code (confirmed by a first code)."""

    permission_classes = ENROLMENT_PERMISSIONS

    @extend_schema(
        operation_id="mfa_totp_begin",
        request=MfaEnrolmentInput,
        responses={
            200: MfaTotpSetupOutput,
            **_errors(e400="Field errors.", e401=_ENROL_401, e403=f"{_STEP_UP} Or {_REFUSED}", e409="`factor_exists`: an authenticator app is set up already."),
        },
        auth=ENROLMENT_AUTH,
    )
    def post(self, request):
        user, _ = _enrolling(request, _valid(MfaEnrolmentInput, request), begin=True)
        setup_id, shown = factors.totp_setup_begin(user=user)
        return Response({"setup_id": setup_id, **shown})


class MfaTotpConfirmApi(APIView):
    """The app's first code makes the secret a factor (with recovery codes, if it is the first factor)."""

    permission_classes = ENROLMENT_PERMISSIONS

    @extend_schema(
        operation_id="mfa_totp_confirm",
        request=MfaTotpConfirmInput,
        responses={
            201: MfaFactorEnrolledOutput,
            **_errors(
                e400="Field errors; `mfa_code_invalid`; `setup_expired`: start again at /api/auth/mfa/totp/.",
                e401=_ENROL_401,
                e403=_REFUSED,
                e409="`factor_exists`: an authenticator app is set up already.",
            ),
        },
        auth=ENROLMENT_AUTH,
    )
    def post(self, request):
        data = _valid(MfaTotpConfirmInput, request)
        user, enrolment = _enrolling(request, data)
        factor, codes = factors.totp_setup_confirm(
            request=request, user=user, setup_id=data.validated_data["setup_id"], code=data.validated_data["code"], enrolment=enrolment
        )
        return _enrolled(request, user, enrolment, factor, codes)


class MfaWebAuthnRegisterBeginApi(APIView):
    """Options for ``navigator.credentials.create()`` to register a security key or a passkey."""

    permission_classes = ENROLMENT_PERMISSIONS

    @extend_schema(
        operation_id="mfa_webauthn_register_begin",
        request=MfaWebAuthnRegisterBeginInput,
        responses={200: MfaWebAuthnOptionsOutput, **_errors(e400="Field errors.", e401=_ENROL_401, e403=_REFUSED)},
        auth=ENROLMENT_AUTH,
    )
    def post(self, request):
        data = _valid(MfaWebAuthnRegisterBeginInput, request)
        user, _ = _enrolling(request, data, begin=True)
        registration_id, options = factors.webauthn_register_begin(user=user, passwordless=data.validated_data["passwordless"])
        return Response({"registration_id": registration_id, "options": options})


class MfaWebAuthnRegisterApi(APIView):
    """The browser's answer becomes a named factor (with recovery codes, if it is the first factor)."""

    permission_classes = ENROLMENT_PERMISSIONS

    @extend_schema(
        operation_id="mfa_webauthn_register",
        request=MfaWebAuthnRegisterInput,
        responses={
            201: MfaFactorEnrolledOutput,
            **_errors(
                e400="Field errors; `webauthn_invalid` (wrong origin or RP, a key already registered ...); `setup_expired`.",
                e401=_ENROL_401,
                e403=_REFUSED,
            ),
        },
        auth=ENROLMENT_AUTH,
    )
    def post(self, request):
        data = _valid(MfaWebAuthnRegisterInput, request)
        user, enrolment = _enrolling(request, data)
        factor, codes = factors.webauthn_register_complete(
            request=request,
            user=user,
            registration_id=data.validated_data["registration_id"],
            credential=data.validated_data["credential"],
            name=data.validated_data["name"],
            enrolment=enrolment,
        )
        return _enrolled(request, user, enrolment, factor, codes)


class MfaRecoveryCodesApi(APIView):
    """A new set of recovery codes (after a step-up): shown once, the old set stops working."""

    permission_classes = MANAGING_PERMISSIONS

    @extend_schema(
        operation_id="mfa_recovery_codes_regenerate",
        request=None,
        responses={
            200: MfaRecoveryCodesOutput,
            **_errors(e400="`mfa_not_enabled`: no authenticator app or security key.", e401=_UNAUTHENTICATED, e403=f"{_STEP_UP} Or {_REFUSED}"),
        },
        auth=MANAGING_AUTH,
    )
    def post(self, request):
        stepup.step_up_check(request=request, user=request.user)
        return Response({"recovery_codes": factors.recovery_codes_regenerate(request=request, user=request.user)})


class MfaStepUpApi(APIView):
    """Verify a factor again: for ``BOUNCER_MFA_STEP_UP_SECONDS`` this credential may do the sensitive actions."""

    permission_classes = MANAGING_PERMISSIONS

    @extend_schema(
        operation_id="mfa_step_up",
        request=MfaStepUpInput,
        responses={
            200: MfaStepUpOutput,
            **_errors(
                e400="Field errors; `mfa_code_invalid`, `webauthn_invalid`; `step_up_expired` (start the key check again); `mfa_not_enabled`.",
                e401=_UNAUTHENTICATED,
                e403=_REFUSED,
                e429="`throttled`, `account_locked`: wrong codes count toward the lockout like failed sign-ins.",
            ),
        },
        auth=MANAGING_AUTH,
    )
    def post(self, request):
        data = _valid(MfaStepUpInput, request).validated_data
        seconds = stepup.step_up(
            request=request, user=request.user, code=data.get("code"), credential=data.get("credential"), step_up_id=data.get("step_up_id")
        )
        return Response({"expires_in": seconds})


class MfaStepUpWebAuthnBeginApi(APIView):
    """Options for ``navigator.credentials.get()`` to step up with a security key or passkey."""

    permission_classes = MANAGING_PERMISSIONS

    @extend_schema(
        operation_id="mfa_step_up_webauthn_begin",
        request=None,
        responses={200: MfaStepUpWebAuthnOutput, **_errors(e400="`mfa_not_enabled`.", e401=_UNAUTHENTICATED, e403=_REFUSED)},
        auth=MANAGING_AUTH,
    )
    def post(self, request):
        step_up_id, options = stepup.step_up_webauthn_begin(user=request.user)
        return Response({"step_up_id": step_up_id, "options": options})
class PasskeyBeginApi(APIView):
    """Start a passwordless sign-in: options for ``navigator.credentials.get()`` and the ``passkey_token`` that goes back with the answer."""

    authentication_classes: list = []
    permission_classes = [SameOriginOrNonBrowser]

    @extend_schema(
        operation_id="passkey_begin",
        request=None,
        responses={200: PasskeyBeginOutput, 404: OpenApiResponse(description="Passkey sign-in is off (BOUNCER_MFA_PASSKEY_LOGIN)."), 429: None},
        auth=[],
    )
    def post(self, request):
        raw, options = passkeys.passkey_signin_begin(request=request)
        return Response({"passkey_token": raw, "options": options})


@signin_entry_point("passkey")
@method_decorator(ensure_csrf_cookie, name="dispatch")
class PasskeySigninApi(APIView):
    """Sign in with a passkey alone: the credential asked for (``issue``), with ``amr`` [``swk``|``hwk``, ``mfa``]."""

    # No identity yet: the passkey's signature is the proof. Throttles: per
    # address (``login``) and, once the passkey names its user, per account.
    authentication_classes: list = []
    permission_classes = [SameOriginOrNonBrowser]

    @extend_schema(
        operation_id="passkey_signin",
        request=PasskeySigninInput,
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The session login's, /api/auth-token/'s or /api/token/'s answer."),
            400: OpenApiResponse(description="`webauthn_invalid` (unknown passkey, another user's, wrong origin, replayed, inactive account), or field errors."),
            401: OpenApiResponse(description="`passkey_token_invalid`: expired or already used: start again."),
            403: OpenApiResponse(description="`email_unverified`."),
            404: OpenApiResponse(description="Passkey sign-in is off (BOUNCER_MFA_PASSKEY_LOGIN)."),
            429: OpenApiResponse(description="Throttled, or the account is locked."),
        },
        auth=[],
    )
    def post(self, request):
        if not passkeys.passkey_login_enabled():
            raise passkeys.PasskeyLoginDisabled()
        data = PasskeySigninInput(data=request.data)
        data.is_valid(raise_exception=True)
        issue = data.validated_data["issue"]
        result = passkeys.passkey_signin(
            request=request, raw=data.validated_data["passkey_token"], credential=data.validated_data["credential"], record=issue != "session"
        )
        options = {"device_name": data.validated_data["device_name"]} if issue == "token" else {"cookie": data.validated_data["cookie"]} if issue == "jwt" else {}
        return signin_finish(request=request, result=result, method=passkeys.METHOD, issue=issue, options=options)
