"""OpenAPI pieces the sign-in endpoints of other apps share: the 401 that asks for the second step."""

from drf_spectacular.utils import OpenApiResponse

from bouncer.multifactor.serializers import MfaRequiredOutput

MFA_REQUIRED_RESPONSE = OpenApiResponse(
    MfaRequiredOutput,
    description="A second factor is owed (`mfa_required`), or must be enrolled first (`mfa_enrolment_required`): "
    "complete with the `mfa_token` at /api/auth/mfa/authenticate/.",
)
