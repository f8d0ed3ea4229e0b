"""Admin for OAuth applications. The toolkit registers grants, tokens and
id_tokens itself (credentials masked, add disabled); its application admin
is replaced by this subclass. (Not through its ``APPLICATION_ADMIN_CLASS``
setting: that imports this module while the toolkit's admin module is still
being imported, a circular import.)
"""

from __future__ import annotations

from django.contrib import admin
from oauth2_provider.admin import ApplicationAdmin as DotApplicationAdmin
from oauth2_provider.models import get_application_model

from bouncer.oauth.forms import BouncerApplicationForm


class ApplicationAdmin(DotApplicationAdmin):
    """Bouncer's client rules; the secret shows only on the add page (to copy
    before saving, then hashed) and never again: on a saved application the
    field is read-only and shows that it is hashed, never the hash."""

    form = BouncerApplicationForm
    list_display = ("pk", "name", "client_id", "user", "client_type", "authorization_grant_type", "skip_authorization")
    exclude = ("hash_client_secret",)

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        return readonly + ("secret_status",) if obj is not None else readonly

    def get_exclude(self, request, obj=None):
        exclude = tuple(super().get_exclude(request, obj) or ())
        return exclude + ("client_secret",) if obj is not None else exclude

    def secret_status(self, obj) -> str:
        return "stored hashed; cannot be shown (create a new application to get a new secret)"

    secret_status.short_description = "client secret"


admin.site.unregister(get_application_model())
admin.site.register(get_application_model(), ApplicationAdmin)
