from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.sessions.models import Session

from bouncer.users.models import User


@admin.register(User)
class BouncerUserAdmin(UserAdmin):
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "email", "password1", "password2")}),
    )


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    """Live sessions; deleting one signs that browser out."""

    list_display = ("session_key_prefix", "user_id", "expire_date")
    readonly_fields = ("session_key_prefix", "user_id", "expire_date")
    exclude = ("session_key", "session_data")
    date_hierarchy = "expire_date"

    @admin.display(description="session")
    def session_key_prefix(self, obj: Session) -> str:
        return f"{obj.session_key[:6]}…"

    @admin.display(description="user id")
    def user_id(self, obj: Session):
        return obj.get_decoded().get("_auth_user_id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
