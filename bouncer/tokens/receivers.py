"""Keep cached DRF tokens in step with the database."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from bouncer.tokens.jwt.state import family_state_invalidate_for_user
from bouncer.tokens.opaque.cache import token_cache_invalidate
from bouncer.tokens.opaque.models import DeviceToken
from bouncer.users.usercache import user_cache_invalidated


@receiver(post_save, sender=DeviceToken, dispatch_uid="tokens_cache_invalidate_on_save")
@receiver(post_delete, sender=DeviceToken, dispatch_uid="tokens_cache_invalidate_on_delete")
def token_changed(sender, instance: DeviceToken, created: bool = False, **kwargs) -> None:
    if not created:  # a new token cannot be cached yet
        token_cache_invalidate(digests=[instance.digest])


@receiver(user_cache_invalidated, dispatch_uid="tokens_cache_invalidate_on_user_change")
def user_changed(sender, user_id, **kwargs) -> None:
    # DRF-token and JWT-family entries carry a copy of their user: drop them all.
    token_cache_invalidate(digests=DeviceToken.objects.filter(user_id=user_id).values_list("digest", flat=True))
    family_state_invalidate_for_user(user_id)
