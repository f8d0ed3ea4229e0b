"""The project's URLs plus one endpoint that requires an MFA-verified credential (``MfaVerified``).

Bouncer's own endpoints that need a recent second factor use a step-up;
``MfaVerified`` is for an API that wants every request made with a
credential of an MFA sign-in, so the tests give it an endpoint of its own.
"""

from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from bouncer.core.permissions import MfaVerified
from config.urls import urlpatterns as project_urlpatterns

MFA_ONLY = "/api/test/mfa-only/"


class MfaOnlyApi(APIView):
    permission_classes = [IsAuthenticated & MfaVerified]

    def get(self, request):
        return Response({"username": request.user.get_username()})


urlpatterns = [path(MFA_ONLY.lstrip("/"), MfaOnlyApi.as_view()), *project_urlpatterns]
