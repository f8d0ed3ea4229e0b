from django.contrib import admin

from bouncer.tokens.jwt.models import JwtFamily
from bouncer.tokens.jwt.services import jwt_revoke_family
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


@admin.register(JwtFamily)
class JwtFamilyAdmin(admin.ModelAdmin):
    """JWT sign-ins. Only ids are stored; "Revoke" ends a sign-in, access tokens included."""

    list_display = ("id", "user", "created_at", "expires_at", "revoked_at", "revoke_reason")
    list_filter = ("revoke_reason",)
    search_fields = ("user__username",)
    list_select_related = ("user",)
    readonly_fields = ("id", "user", "created_at", "expires_at", "revoked_at", "revoke_reason")
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke the selected sign-ins")
    def revoke(self, request, queryset):
        for family in queryset.filter(revoked_at__isnull=True).select_related("user"):
            jwt_revoke_family(family=family, request=request, reason="admin")
