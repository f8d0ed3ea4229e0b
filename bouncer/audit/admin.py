from django.contrib import admin

from bouncer.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is written by services, never by hand."""

    list_display = ("created_at", "action", "username", "user", "method", "ip_address")
    list_filter = ("action", "method")
    search_fields = ("username", "ip_address")
    date_hierarchy = "created_at"
    list_select_related = ("user",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
