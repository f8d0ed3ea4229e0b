"""Keep the cached user in step with the database, and run the credential
lifecycle when a user's save changes who may sign in."""

from django.contrib.auth.hashers import is_password_usable
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from bouncer.core import credentials
from bouncer.core.imports import import_step_register
from bouncer.users.imports import UsersImport
from bouncer.users.models import User, UserSession
from bouncer.users.sessions import SessionCredentials, session_cache_delete, session_sign_in_record
from bouncer.users.signin import signin_finisher_register
from bouncer.users.usercache import user_cache_invalidate

#: Saved fields that no authentication or permission decision reads.
IRRELEVANT_FIELDS = frozenset({"last_login"})

credentials.credential_kind_register(SessionCredentials())
signin_finisher_register("session", "bouncer.users.api.session_signin_finish")
import_step_register(UsersImport())


@receiver(post_save, sender=User, dispatch_uid="users_cache_invalidate_on_save")
@receiver(post_delete, sender=User, dispatch_uid="users_cache_invalidate_on_delete")
def user_changed(sender, instance: User, created: bool = False, update_fields=None, **kwargs) -> None:
    if created:  # a new row cannot be cached yet
        return
    if update_fields is not None and set(update_fields) <= IRRELEVANT_FIELDS:
        # Every sign-in saves last_login; it decides nothing, and invalidating
        # would drop every cached copy of the user (one per JWT sign-in) at
        # each login — measured: a user with thousands of sign-ins made each
        # login 25% slower.
        return
    user_cache_invalidate(user_id=instance.pk)


@receiver(pre_save, sender=User, dispatch_uid="users_lifecycle_detect")
def user_lifecycle_detect(sender, instance: User, update_fields=None, raw: bool = False, **kwargs) -> None:
    """Notice, on the model itself, the saves that must end every credential: a
    password set or disabled (the admin's form, ``manage.py changepassword``, any
    ``set_password`` or ``set_unusable_password`` + ``save``) and an inactive user
    saved (the admin's checkbox, a service, the ORM). Detected here rather than
    per caller so none is missed."""
    instance._bouncer_revoke_reason = None
    if raw or instance.pk is None or (update_fields is not None and set(update_fields) <= IRRELEVANT_FIELDS):
        return
    # ``_password`` is what AbstractBaseUser.set_password leaves for save() to
    # hand to the password validators' password_changed(): the one marker
    # Django keeps of "the password was set since load".
    if getattr(instance, "_password", None) is not None:
        instance._bouncer_revoke_reason = credentials.PASSWORD_SET
    elif not is_password_usable(instance.password) and (update_fields is None or "password" in update_fields):
        # ``set_unusable_password()`` (the admin's "Password-based authentication:
        # Disabled", what an operator does to a compromised account) leaves no
        # marker: compare with the stored hash. One query, only when saving a
        # user without a usable password; a hash upgrade stays usable, so it
        # never gets here.
        stored = sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True).first()
        if stored is not None and stored != instance.password:
            instance._bouncer_revoke_reason = credentials.PASSWORD_SET
    if not instance.is_active:
        # Saving an already inactive user revokes again: nothing is left, so
        # it costs a few empty deletes and writes no audit row.
        instance._bouncer_revoke_reason = credentials.DEACTIVATED


@receiver(post_save, sender=User, dispatch_uid="users_lifecycle_revoke")
def user_lifecycle_revoke(sender, instance: User, created: bool = False, **kwargs) -> None:
    reason = getattr(instance, "_bouncer_revoke_reason", None)
    instance._bouncer_revoke_reason = None
    if created or reason is None or credentials.credential_lifecycle_is_handled():
        return
    credentials.credential_revoke_all(user=instance, request=None, reason=reason)


@receiver(user_logged_in, dispatch_uid="users_session_sign_in_record")
def session_signed_in(sender, request, user, **kwargs) -> None:
    if request is not None and getattr(request, "session", None) is not None:
        session_sign_in_record(request=request)


@receiver(post_delete, sender=UserSession, dispatch_uid="users_session_cache_delete")
def session_deleted(sender, instance: UserSession, **kwargs) -> None:
    # Deleted in the admin, by a revocation or with its user: no node may load
    # the cached copy again (it would live for SESSION_COOKIE_AGE otherwise).
    session_cache_delete(session_keys=[instance.session_key])
