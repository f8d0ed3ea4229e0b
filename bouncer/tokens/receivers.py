"""Keep cached DRF tokens in step with the database."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from bouncer.tokens.opaque.cache import token_cache_invalidate
from bouncer.tokens.opaque.models import DeviceToken


@receiver(post_save, sender=DeviceToken, dispatch_uid="tokens_cache_invalidate_on_save")
@receiver(post_delete, sender=DeviceToken, dispatch_uid="tokens_cache_invalidate_on_delete")
def token_changed(sender, instance: DeviceToken, **kwargs) -> None:
    token_cache_invalidate(digest=instance.digest)
