"""A URLconf with one way in the sign-in flow does not know about, for the probe's own test.

``DELETE /api/accounts/close/`` checks the caller's password under a field
name no sign-in uses, takes JSON only and answers no other method: the shape
an "erase my account, confirm with your password" endpoint would have.
"""

from django.urls import path
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView


class CloseAccountApi(APIView):
    parser_classes = [JSONParser]
    permission_classes = [IsAuthenticated]

    def delete(self, request):
        if set(request.data) != {"current_password"}:
            return Response({"detail": "current_password only."}, status=400)
        if not request.user.check_password(request.data["current_password"]):
            return Response({"detail": "Wrong password."}, status=400)
        return Response(status=204)


urlpatterns = [path("api/accounts/close/", CloseAccountApi.as_view())]
