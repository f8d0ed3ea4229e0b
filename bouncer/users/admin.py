from django.apps import apps
from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.contrib.auth.admin import UserAdmin

from bouncer.core import credentials
from bouncer.users import services as user_services
from bouncer.users.models import User, UserSession


@admin.register(User)
class BouncerUserAdmin(UserAdmin):
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "email", "password1", "password2")}),
    )
    actions = ["sign_out_everywhere", "reset_second_factors"]

    def save_model(self, request, obj, form, change):
        """A changed email takes allauth's address rows along, as ``PATCH /api/accounts/profile/`` does
        (the admin's change view runs in one transaction: the save and the rows commit together)."""
        super().save_model(request, obj, form, change)
        if change and "email" in form.changed_data:
            user_services.user_email_changed_by_admin(request=request, user=obj, fields=list(form.changed_data))

    def get_deleted_objects(self, objs, request):
        """Django's list, minus the models whose admin forbids deleting a row by hand.

        django-oauth-toolkit's token admins forbid it for everyone ("revoke, do not
        delete": a deleted access token orphans its refresh token), which made the
        admin refuse (403) to delete any user who ever got an OAuth2 token. With
        the user, every token row of the user goes in the same cascade (refresh
        tokens included), and that deletion is the lifecycle event which ends the
        user's credentials (``post_delete`` drops each cached copy). Waived only
        where the staffer holds the model's delete permission: one they lack
        still blocks the deletion, as in Django.
        """
        to_delete, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        forbidden = {
            str(model._meta.verbose_name)
            for model in apps.get_models()
            if self.admin_site.is_registered(model)
            and request.user.has_perm(f"{model._meta.app_label}.{get_permission_codename('delete', model._meta)}")
            and not self.admin_site.get_model_admin(model).has_delete_permission(request)
        }
        return to_delete, model_count, perms_needed - forbidden, protected

    @admin.action(description="Sign selected users out everywhere", permissions=["change"])
    def sign_out_everywhere(self, request, queryset) -> None:
        """Every session, DRF token, JWT sign-in and OAuth2 authorization of each user."""
        total = 0
        for user in queryset:
            total += credentials.credential_revoke_all(user=user, request=request, reason=credentials.SIGNED_OUT_BY_ADMIN)
        self.message_user(request, f"{total} credential(s) revoked for {len(queryset)} user(s).", messages.SUCCESS)

    @admin.action(description="Reset second factors of selected users (lost every factor)", permissions=["change"])
    def reset_second_factors(self, request, queryset) -> None:
        """What ``manage.py mfa_reset`` does: every factor removed, every credential ended (docs/mfa.md)."""
        from bouncer.multifactor.services import MfaNothingToReset, mfa_factors_reset

        reset, skipped, revoked = 0, [], 0
        for user in queryset:
            try:
                done = mfa_factors_reset(user=user, request=request, by="admin", operator=request.user.get_username())
            except MfaNothingToReset:
                skipped.append(user.get_username())
                continue
            reset += 1
            revoked += done.revoked
        if reset:
            self.message_user(request, f"Second factors removed for {reset} user(s); {revoked} credential(s) ended.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"No second factor to remove: {', '.join(skipped)}.", messages.WARNING)


@admin.register(UserSession)
class SessionAdmin(admin.ModelAdmin):
    """Live sessions, for superusers; deleting one signs that browser out at once (its
    cached copy goes too)."""

    list_display = ("session_key_prefix", "user", "ip_address", "created_at", "last_used_at", "expire_date")
    readonly_fields = ("session_key_prefix", "user", "ip_address", "user_agent", "created_at", "last_used_at", "expire_date")
    exclude = ("session_key", "session_data")
    date_hierarchy = "expire_date"
    list_select_related = ("user",)
    # The primary key *is* the session key, a bearer secret: no row links it into a
    # URL (browser history, request logs), and only a superuser, who could become
    # any user anyway, sees the list (its checkboxes carry the key) or deletes one.
    list_display_links = None

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    @admin.display(description="session")
    def session_key_prefix(self, obj: UserSession) -> str:
        return f"{obj.session_key[:6]}…"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
