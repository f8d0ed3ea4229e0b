"""``User.mfa_enabled`` follows the user's factors (allauth's ``Authenticator`` rows), whoever writes them.

Saved through ``User.save`` (update_fields), so the user cache is invalidated
by the users app's own receiver like for any other change of the user.
"""

from allauth.mfa.models import Authenticator
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from bouncer.multifactor.selectors import mfa_has_factor


@receiver(post_save, sender=Authenticator, dispatch_uid="multifactor_flag_on_save")
@receiver(post_delete, sender=Authenticator, dispatch_uid="multifactor_flag_on_delete")
def factor_changed(sender, instance: Authenticator, **kwargs) -> None:
    from django.contrib.auth import get_user_model

    user = get_user_model()._default_manager.filter(pk=instance.user_id).first()
    if user is None:  # deleted with its user
        return
    has = mfa_has_factor(user=user)
    if user.mfa_enabled != has:
        user.mfa_enabled = has
        user.save(update_fields=["mfa_enabled"])
