"""Keep cached DRF tokens and JWT sign-ins in step with the database, and put
both kinds in the credential registry."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from bouncer.core.credentials import credential_kind_register
from bouncer.core.imports import import_step_register
from bouncer.tokens.jwt.imports import SimpleJwtNotice
from bouncer.tokens.jwt.models import JwtFamily
from bouncer.tokens.jwt.services import JwtCredentials
from bouncer.tokens.jwt.state import family_state_invalidate, family_state_invalidate_for_user
from bouncer.tokens.opaque.cache import token_cache_invalidate
from bouncer.tokens.opaque.imports import DrfTokensImport
from bouncer.tokens.opaque.models import DeviceToken
from bouncer.tokens.opaque.services import TokenCredentials
from bouncer.users.signin import signin_finisher_register
from bouncer.users.usercache import user_cache_invalidated

credential_kind_register(TokenCredentials())
credential_kind_register(JwtCredentials())
signin_finisher_register("token", "bouncer.tokens.opaque.api.token_signin_finish")
signin_finisher_register("jwt", "bouncer.tokens.jwt.api.jwt_signin_finish")
import_step_register(DrfTokensImport())
import_step_register(SimpleJwtNotice())


@receiver(post_save, sender=DeviceToken, dispatch_uid="tokens_cache_invalidate_on_save")
@receiver(post_delete, sender=DeviceToken, dispatch_uid="tokens_cache_invalidate_on_delete")
def token_changed(sender, instance: DeviceToken, created: bool = False, **kwargs) -> None:
    if not created:  # a new token cannot be cached yet
        token_cache_invalidate(digests=[instance.digest])


@receiver(post_delete, sender=JwtFamily, dispatch_uid="tokens_jwt_family_invalidate_on_delete")
def family_deleted(sender, instance: JwtFamily, **kwargs) -> None:
    # A family deleted (the admin, the purge, its user deleted: the cascade
    # sends this per row) must not live on in the cache as "ok" until its TTL.
    # An expired one is refused on its expiry alone: the purge stays free of cache writes.
    if instance.expires_at > timezone.now():
        family_state_invalidate([instance.pk])


@receiver(user_cache_invalidated, dispatch_uid="tokens_cache_invalidate_on_user_change")
def user_changed(sender, user_id, **kwargs) -> None:
    # DRF-token and JWT-family entries carry a copy of their user: drop them all.
    token_cache_invalidate(digests=DeviceToken.objects.filter(user_id=user_id).values_list("digest", flat=True))
    family_state_invalidate_for_user(user_id)
