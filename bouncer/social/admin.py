"""Admin for social sign-in: the providers' applications and the linked accounts.

allauth registers its own admins; these replace two of them:

- **Social applications**: the client secret is write-only (a password
  field that never shows the stored value; left blank, the secret is kept),
  and no list column shows it. An application configured from the
  environment is not in this list (it lives in settings, not the database).
- **Social tokens**: Bouncer does not keep the providers' tokens
  (``SOCIALACCOUNT_STORE_TOKENS = False``); the list shows no token text,
  and nothing can be added or edited.

Linked social accounts keep allauth's admin (search by the user's fields,
filter by provider). Django's model permissions apply to all three: a
staff user without ``view_socialapp`` does not see the applications.
"""

from __future__ import annotations

from allauth.socialaccount.admin import SocialAppAdmin, SocialAppForm, SocialTokenAdmin
from allauth.socialaccount.models import SocialApp, SocialToken
from django import forms
from django.contrib import admin

from bouncer.social.adapters import social_app_problem


class SocialAppSecretForm(SocialAppForm):
    secret = forms.CharField(
        label="Client secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password", "size": "100"}),
        help_text="Write-only: the stored secret is never shown. Leave blank to keep it.",
    )

    def clean(self):
        cleaned = super().clean()
        probe = SocialApp(provider=cleaned.get("provider") or "", provider_id=cleaned.get("provider_id") or "")
        problem = social_app_problem(probe)
        if problem is not None:
            raise forms.ValidationError(f"Bouncer would not use this application: {problem}.")
        return cleaned

    def clean_secret(self) -> str:
        secret = self.cleaned_data.get("secret", "")
        if not secret and self.instance.pk:
            return self.instance.secret
        return secret


class BouncerSocialAppAdmin(SocialAppAdmin):
    form = SocialAppSecretForm
    list_display = ("name", "provider", "provider_id", "client_id")
    search_fields = ("name", "provider", "provider_id", "client_id")

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        # A view-only admin would see the secret as read-only text: left out for them.
        if obj is not None and not self.has_change_permission(request, obj):
            fields = [name for name in fields if name != "secret"]
        return fields


class BouncerSocialTokenAdmin(SocialTokenAdmin):
    list_display = ("app", "account", "expires_at")
    exclude = ("token", "token_secret")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


for model, model_admin in ((SocialApp, BouncerSocialAppAdmin), (SocialToken, BouncerSocialTokenAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
