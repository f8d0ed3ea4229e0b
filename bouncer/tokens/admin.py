from django.contrib import admin

from bouncer.tokens.opaque.models import DeviceToken
from bouncer.tokens.opaque.services import token_revoke


@admin.register(DeviceToken)
class DeviceTokenAdmin(admin.ModelAdmin):
    """Tokens can be inspected and revoked (deleted) here, never created:
    the key is shown only once, to the client that signed in."""

    list_display = ("prefix", "user", "device_name", "created_at", "expires_at")
    search_fields = ("user__username", "device_name", "prefix")
    list_select_related = ("user",)
    readonly_fields = ("user", "prefix", "device_name", "created_at", "expires_at")
    exclude = ("digest",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    # Deleting a token here is a revocation: go through the service so it is audited.
    def delete_model(self, request, obj):
        token_revoke(token=obj, request=request, reason="admin")

    def delete_queryset(self, request, queryset):
        for token in queryset.select_related("user"):
            token_revoke(token=token, request=request, reason="admin")
