"""Audit for tokens django-oauth-toolkit issues, the access-token cache kept in step,
OAuth2 authorizations in the credential registry, and the id_token key ring kept current."""

from django.core.signals import request_started
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from oauth2_provider.models import get_access_token_model
from oauth2_provider.signals import app_authorized

from bouncer.core.credentials import credential_kind_register
from bouncer.core.imports import import_step_register
from bouncer.oauth.cache import access_token_cache_invalidate
from bouncer.oauth.imports import OAuthImport
from bouncer.oauth.keyring import oidc_keys_refresh
from bouncer.oauth.services import OAuthCredentials, oauth_token_issued_record
from bouncer.users.usercache import user_cache_invalidated

AccessToken = get_access_token_model()

credential_kind_register(OAuthCredentials())
import_step_register(OAuthImport())


@receiver(app_authorized, dispatch_uid="oauth_audit_token_issued")
def token_issued(sender, request, token, **kwargs) -> None:
    grant_type = request.POST.get("grant_type", "") if request is not None else ""
    oauth_token_issued_record(request=request, token=token, grant_type=grant_type)


@receiver(post_save, sender=AccessToken, dispatch_uid="oauth_cache_invalidate_on_save")
def access_token_saved(sender, instance, created: bool = False, **kwargs) -> None:
    if not created:  # a new token cannot be cached yet
        access_token_cache_invalidate(checksums=[instance.token_checksum])


@receiver(post_delete, sender=AccessToken, dispatch_uid="oauth_cache_invalidate_on_delete")
def access_token_deleted(sender, instance, **kwargs) -> None:
    # An expired token is refused on its expiry alone; skipping it keeps the
    # purge of thousands of expired rows free of cache round trips.
    if not instance.is_expired():
        access_token_cache_invalidate(checksums=[instance.token_checksum])


@receiver(user_cache_invalidated, dispatch_uid="oauth_cache_invalidate_on_user_change")
def user_changed(sender, user_id, **kwargs) -> None:
    access_token_cache_invalidate(
        checksums=AccessToken.objects.filter(user_id=user_id).values_list("token_checksum", flat=True)
    )


@receiver(request_started, dispatch_uid="oauth_oidc_keys_refresh")
def oidc_keys_current(sender, environ=None, **kwargs) -> None:
    """Before an /o/ request (JWKS, discovery, token, authorize, logout) is served: the
    key ring as the file is now, so a rotation is used without a restart (keyring.py)."""
    if environ is not None and environ.get("PATH_INFO", "").startswith("/o/"):
        oidc_keys_refresh()
