"""OpenAPI pieces of the social API (drf-spectacular): the answers and the error codes."""

from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer

from bouncer.core.schema import ERROR_REF, error_schema
from bouncer.tokens.jwt.serializers import JwtCookieOutput, JwtPairOutput
from bouncer.tokens.opaque.serializers import TokenLoginOutput

_ERROR = ERROR_REF

SOCIAL_SIGNIN_OK = PolymorphicProxySerializer(
    component_name="SocialSigninOutput",
    serializers=[JwtPairOutput, JwtCookieOutput, TokenLoginOutput],
    resource_type_field_name=None,
)

SOCIAL_ERRORS = {
    400: OpenApiResponse(
        error_schema(400),
        description="Bad body (field errors), or the provider refused the credential: `social_code_invalid`, "
        "`social_token_invalid`, `social_nonce_mismatch`, `social_token_replayed`, `social_credential_unsupported`.",
    ),
    401: OpenApiResponse(_ERROR, description="`invalid_credentials` (inactive account), `signin_incomplete` (a step is owed)."),
    404: OpenApiResponse(_ERROR, description="`not_found`: unknown or unconfigured provider."),
    409: OpenApiResponse(_ERROR, description="`social_email_taken`: an account has this address and the provider does not vouch for it."),
    429: OpenApiResponse(_ERROR, description="`throttled`, `account_locked`."),
    502: OpenApiResponse(_ERROR, description="`social_provider_unavailable`: the provider did not answer; retry."),
}

#: /api/auth/social/<int:account_id>/ (DELETE) and /api/auth/social/<provider>/ (POST) share
#: their shape: a numeric provider reaches the unlink route, a non-numeric account id the link route.
_OTHER_ROUTE = OpenApiResponse(
    _ERROR,
    description="`method_not_allowed`: a numeric `provider` is an account id (unlink, DELETE), a non-numeric "
    "`account_id` is a provider (link, POST).",
)

SOCIAL_LINK_ERRORS = {
    400: SOCIAL_ERRORS[400],
    404: OpenApiResponse(_ERROR, description="`not_found`: unknown provider, or no such linked account of yours."),
    405: _OTHER_ROUTE,
    409: OpenApiResponse(_ERROR, description="`social_account_taken` (linked to another account), `last_signin_method`."),
    502: SOCIAL_ERRORS[502],
}
