"""Keep the cached user in step with the database."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from bouncer.users.models import User
from bouncer.users.usercache import user_cache_invalidate


@receiver(post_save, sender=User, dispatch_uid="users_cache_invalidate_on_save")
@receiver(post_delete, sender=User, dispatch_uid="users_cache_invalidate_on_delete")
def user_changed(sender, instance: User, created: bool = False, **kwargs) -> None:
    if not created:  # a new row cannot be cached yet
        user_cache_invalidate(user_id=instance.pk)
