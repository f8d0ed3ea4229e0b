from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bouncer.audit.models import AuditAction
from bouncer.audit.selectors import ALERT, FAILURE, SUCCESS, audit_outcome


class AuditEventOutput(serializers.Serializer):
    """One of the caller's own security events (``GET /api/accounts/events/``).

    Only what is safe to show the account's owner: never the row's id, other
    users' ids, the typed username of a failed sign-in, or the event's raw data
    (credential ids); the device and OAuth2 client names are picked from it.
    """

    action = serializers.ChoiceField(choices=AuditAction.choices, read_only=True)
    description = serializers.SerializerMethodField(help_text="The action in words.")
    created_at = serializers.DateTimeField(read_only=True)
    outcome = serializers.SerializerMethodField(
        help_text="`success`; `failure`: a refused attempt; `alert`: Bouncer locked the account or revoked a sign-in."
    )
    method = serializers.CharField(read_only=True, help_text="The credential kind: session, token, jwt, oauth2, basic, social, ...")
    address = serializers.IPAddressField(source="ip_address", read_only=True, allow_null=True)
    user_agent = serializers.CharField(read_only=True)
    device = serializers.SerializerMethodField(help_text="The device name given at sign-in (DRF tokens), else empty.")
    client_id = serializers.SerializerMethodField(help_text="The OAuth2 client's public id, for OAuth2 events, else empty.")

    def get_description(self, event) -> str:
        return AuditAction(event.action).label

    @extend_schema_field(serializers.ChoiceField(choices=[SUCCESS, FAILURE, ALERT]))
    def get_outcome(self, event) -> str:
        return audit_outcome(event.action)

    def get_device(self, event) -> str:
        value = (event.data or {}).get("device_name", "")
        return value if isinstance(value, str) else ""

    def get_client_id(self, event) -> str:
        value = (event.data or {}).get("client_id", "")
        return value if isinstance(value, str) else ""

