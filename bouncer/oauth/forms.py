"""The application form used by the admin and /o/applications/: Bouncer's client rules added."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from oauth2_provider.forms import ApplicationForm
from oauth2_provider.models import AbstractApplication

from bouncer.oauth.services import CLIENT_GRANT_TYPES, oauth_client_check

APPLICATION_FIELDS = (
    "name",
    "client_id",
    "client_secret",
    "client_type",
    "authorization_grant_type",
    "redirect_uris",
    "post_logout_redirect_uris",
    "allowed_origins",
    "algorithm",
    "skip_authorization",
)


class BouncerApplicationForm(ApplicationForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "authorization_grant_type" in self.fields:
            self.fields["authorization_grant_type"].choices = [
                choice for choice in AbstractApplication.GRANT_TYPES if choice[0] in CLIENT_GRANT_TYPES
            ]
        if "algorithm" in self.fields:
            self.fields["algorithm"].choices = [
                choice for choice in AbstractApplication.ALGORITHM_TYPES
                if choice[0] in (AbstractApplication.NO_ALGORITHM, AbstractApplication.RS256_ALGORITHM)
            ]
        if "hash_client_secret" in self.fields:
            self.fields["hash_client_secret"].disabled = True
            self.fields["hash_client_secret"].initial = True

    def clean(self):
        cleaned = super().clean()
        self.instance.hash_client_secret = True
        for name in ("client_type", "authorization_grant_type", "algorithm"):
            if name in cleaned:
                setattr(self.instance, name, cleaned[name])
        try:
            oauth_client_check(application=self.instance)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        return cleaned
