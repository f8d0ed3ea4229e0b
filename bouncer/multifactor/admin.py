"""Admin for users' second factors: listed and removable, never readable or editable.

allauth's own ``Authenticator`` admin shows and edits the ``data`` column:
a TOTP secret, a WebAuthn public key and counter, recovery-code digests. An
operator could read a user's TOTP secret there, or rewrite a key. This one
replaces it: what kind, which name, when used; nothing can be added or
changed, and deleting is how an operator removes the factor of a user who
lost it (docs/mfa.md, "Lost every factor"): the deletion is audited and
``User.mfa_enabled`` follows it (receivers.py).
"""

from __future__ import annotations

import allauth.mfa.admin  # noqa: F401  (registers allauth's admin first, whatever the app order: replaced below)
from allauth.mfa.models import Authenticator
from django.contrib import admin

from bouncer.audit.models import AuditAction
from bouncer.audit.services import audit_record
from bouncer.multifactor.recovery import recovery_codes_left

admin.site.unregister(Authenticator)


@admin.register(Authenticator)
class FactorAdmin(admin.ModelAdmin):
    list_display = ("user", "type", "label", "created_at", "last_used_at")
    list_filter = ("type",)
    search_fields = ("user__username", "user__email")
    fields = ("user", "type", "label", "created_at", "last_used_at")
    readonly_fields = fields
    list_select_related = ("user",)

    @admin.display(description="name / details")
    def label(self, obj: Authenticator) -> str:
        if obj.type == Authenticator.Type.WEBAUTHN:
            return str(obj.data.get("name", ""))
        if obj.type == Authenticator.Type.RECOVERY_CODES:
            return f"{recovery_codes_left(obj)} unused"
        return ""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj: Authenticator) -> None:
        user, kind, pk = obj.user, obj.type, obj.pk
        super().delete_model(request, obj)
        audit_record(action=AuditAction.MFA_REMOVED, request=request, user=user, data={"factor": kind, "factor_id": pk, "by": "admin"})

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset.select_related("user"):
            self.delete_model(request, obj)
