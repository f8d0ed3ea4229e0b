"""Social sign-in and linking for SPAs and mobile apps (``/api/auth/<provider>/``, ``/api/auth/social/``)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from bouncer.core.exceptions import InvalidCredentials
from bouncer.core.permissions import SameOriginOrNonBrowser
from bouncer.social import selectors, services
from bouncer.social.schema import SOCIAL_ERRORS, SOCIAL_LINK_ERRORS, SOCIAL_SIGNIN_OK
from bouncer.social.serializers import SocialAccountOutput, SocialLinkInput, SocialSigninInput
from bouncer.social.tokens import ProviderCredential, social_provider_get
from bouncer.tokens.jwt.api import JwtObtainFailed
from bouncer.users.signin import signin_entry_point, signin_finish, signin_throttle_address

PROVIDER = OpenApiParameter(
    "provider", str, OpenApiParameter.PATH,
    description="`google`, `github`, `facebook`, or an OpenID Connect app's id (BOUNCER_SOCIAL_OIDC_ID or the admin's Social application).",
)


def _credential(data: dict) -> ProviderCredential:
    return ProviderCredential(**{name: data.get(name, "") for name in ProviderCredential.__dataclass_fields__})


def _account_body(account) -> dict:
    return SocialAccountOutput({
        "id": account.pk, "provider": account.provider, "uid": account.uid,
        "email": selectors.social_account_email(account), "created": account.date_joined, "last_login": account.last_login,
    }).data


@signin_entry_point("social")
class SocialSigninApi(APIView):
    """Sign in (or sign up) with what the client got from the provider; Bouncer's own credential back."""

    # Throttles: the sign-in flow's (per address, scope "social", before the
    # provider is asked; per account once the account is known).
    authentication_classes: list = []
    permission_classes = [SameOriginOrNonBrowser]

    @extend_schema(
        summary="Sign in with a social provider",
        operation_id="social_signin", parameters=[PROVIDER], request=SocialSigninInput,
        responses={200: SOCIAL_SIGNIN_OK, **SOCIAL_ERRORS}, auth=[],
    )
    def post(self, request, provider: str):
        data = SocialSigninInput(data=request.data)
        data.is_valid(raise_exception=True)
        found = social_provider_get(request=request, provider_id=provider)
        signin_throttle_address(request=request, scope="social")
        as_token = data.validated_data["credential"] == "token"
        try:
            result = services.social_signin_with_credential(request=request, provider=found, credential=_credential(data.validated_data))
        except InvalidCredentials:
            # An inactive account: the generic failure of the endpoint whose
            # answer this mirrors (/api/auth-token/: 400; /api/token/: 401 + challenge).
            if as_token:
                raise
            raise JwtObtainFailed() from None
        # The token and JWT finishers answer exactly like /api/auth-token/ and /api/token/
        # (a lifecycle event overtaking the sign-in included); a second step first when owed.
        if as_token:
            return signin_finish(request=request, result=result, method=services.METHOD, issue="token", options={"device_name": data.validated_data["device_name"]})
        return signin_finish(request=request, result=result, method=services.METHOD, issue="jwt", options={"cookie": data.validated_data["cookie"]})


class SocialAccountListApi(APIView):
    """My linked provider identities (any credential)."""

    @extend_schema(summary="List your linked provider identities", operation_id="social_accounts_list", responses={200: SocialAccountOutput(many=True)})
    def get(self, request):
        return Response([_account_body(account) for account in selectors.social_account_list_for_user(user=request.user)])


class SocialAccountUnlinkApi(APIView):
    @extend_schema(summary="Unlink a provider identity", operation_id="social_account_unlink", request=None, responses={204: None, **SOCIAL_LINK_ERRORS})
    def delete(self, request, account_id: int):
        services.social_unlink(request=request, user=request.user, account_id=account_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SocialAccountLinkApi(APIView):
    """Link another provider identity to the signed-in account (the same bodies as sign-in)."""

    @extend_schema(
        summary="Link another provider identity",
        operation_id="social_account_link", parameters=[PROVIDER], request=SocialLinkInput,
        responses={201: SocialAccountOutput, 200: SocialAccountOutput, **SOCIAL_LINK_ERRORS},
    )
    def post(self, request, provider: str):
        data = SocialLinkInput(data=request.data)
        data.is_valid(raise_exception=True)
        found = social_provider_get(request=request, provider_id=provider)
        signin_throttle_address(request=request, scope="social")
        before = {account.pk for account in selectors.social_account_list_for_user(user=request.user)}
        account = services.social_link_with_credential(
            request=request, user=request.user, provider=found, credential=_credential(data.validated_data)
        )
        return Response(_account_body(account), status=status.HTTP_200_OK if account.pk in before else status.HTTP_201_CREATED)
