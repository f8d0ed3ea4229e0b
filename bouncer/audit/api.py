"""The caller's own audit events (read-only): ``GET /api/accounts/events/``."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, permissions, serializers

from bouncer.audit.selectors import audit_event_list_for_user
from bouncer.audit.serializers import AuditEventOutput
from bouncer.core.permissions import OAuth2MethodScope
from bouncer.core.throttling import UserThrottle
from bouncer.users.api import SessionPagination

_ERROR = inline_serializer("AuditErrorOutput", {"detail": serializers.CharField(), "code": serializers.CharField()})


class AccountEventsThrottle(UserThrottle):
    scope = "account_events"


class AuditEventListApi(generics.GenericAPIView):
    """The caller's own recent security events, newest first, a page at a time.

    Only the caller's rows, whoever the caller is (staff too: the admin is
    where staff read everyone's). No query parameter selects the user.
    """

    # An OAuth2 token needs `read` (tests/security/test_oauth_scope_everywhere.py).
    permission_classes = [permissions.IsAuthenticated & OAuth2MethodScope]
    throttle_classes = [AccountEventsThrottle]
    serializer_class = AuditEventOutput
    pagination_class = SessionPagination

    @extend_schema(
        summary="Your own recent security events",
        responses={
            200: AuditEventOutput(many=True),
            401: OpenApiResponse(_ERROR, description="No credentials, or bad ones."),
            403: OpenApiResponse(_ERROR, description="An OAuth2 token without the `read` scope."),
            404: OpenApiResponse(_ERROR, description="A page number past the last page, or not a number."),
            429: OpenApiResponse(_ERROR, description="Too many requests: see Retry-After."),
        },
    )
    def get(self, request):
        page = self.paginate_queryset(audit_event_list_for_user(user=request.user))
        return self.get_paginated_response(AuditEventOutput(page, many=True).data)
