"""Who a social provider's identity is in Bouncer, and signing them in.

allauth turns a provider's answer into a ``SocialLogin`` (the provider's
account: provider id, uid, extra data; the email addresses it asserts, each
with its verified flag) and looks it up by (provider, uid). Everything after
that is decided here, for the browser flow (``adapters.py``) and the API
flow (``api.py``) alike:

1. an identity already linked signs in its user;
2. else a **verified** email the provider asserts that matches an account
   links the identity to that account. If the account's own address was
   never verified, every way into it was set up by someone who never proved
   owning the address (account pre-hijacking): its password is disabled,
   which ends every credential of the account (the registry's lifecycle), as
   allauth's own email authentication does, and the provider identities
   linked to it before are unlinked (an attacker's own provider account
   would otherwise stay a way in). An inactive account is not linked: the
   sign-in is refused like any other for it;
   A staff or superuser account is never linked this way (refused like
   rule 3): a provider's word about an email is not a way into the admin;
3. else a matching email that the provider does not vouch for is refused
   (``social_email_taken``): the owner signs in and links it explicitly;
4. else a new account: a username derived safely from the provider's data,
   no usable password, never a privilege flag from the provider.

Then the sign-in flow's rules (``signin_external``): per-account throttle,
lockout, inactive refused, audit, steps still owed.

Two first sign-ins of one identity at once make one user and one link: the
loser's insert fails on a unique constraint (username, email or the
(provider, uid) of the link), its transaction rolls back, and it signs in to
the winner's account.
"""

from __future__ import annotations

import re
import secrets
import unicodedata

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialLogin
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from bouncer.audit.models import AuditAction
from bouncer.audit.services import audit_record
from bouncer.core.exceptions import DomainError
from bouncer.core.identifiers import identifier_normalize
from bouncer.users.models import User
from bouncer.users.signin import SignInResult, signin_external

#: The audit ``method`` of every social sign-in; the provider is in the row's data.
METHOD = "social"


class SocialEmailTaken(DomainError):
    status_code = 409
    code = "social_email_taken"
    default_detail = (
        "An account with this email address already exists. Sign in to it, then link this provider "
        "from your connected accounts."
    )


class SocialAccountTaken(DomainError):
    status_code = 409
    code = "social_account_taken"
    default_detail = "This provider account is already linked to another Bouncer account."


class SocialLastSignIn(DomainError):
    status_code = 409
    code = "last_signin_method"
    default_detail = "This is the last way to sign in to the account: set a password or link another provider first."


class SocialAccountNotFound(DomainError):
    status_code = 404
    code = "not_found"
    default_detail = "No such linked account."


def provider_of(sociallogin: SocialLogin) -> str:
    """The provider's id as Bouncer names it: ``google``, ``github``, or an OpenID Connect app's id."""
    return sociallogin.account.provider


def _verified_emails(sociallogin: SocialLogin) -> list[str]:
    return [address.email for address in sociallogin.email_addresses if address.verified and address.email]


def _asserted_email(sociallogin: SocialLogin) -> tuple[str, bool]:
    """The address to give a new account, and whether the provider vouches for it."""
    addresses = [address for address in sociallogin.email_addresses if address.email]
    addresses.sort(key=lambda address: (not address.verified, not address.primary))
    if not addresses:
        return "", False
    return addresses[0].email, bool(addresses[0].verified)


def _user_by_email(email: str) -> User | None:
    return User.objects.filter(email_normalized=identifier_normalize(email)).first()


def _address_verified(user: User, email: str) -> bool:
    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()


_USERNAME_UNSAFE = re.compile(r"[^a-z0-9_.-]+")


def username_derive(sociallogin: SocialLogin) -> str:
    """An ASCII base for a new username: the provider's login, else the email's local part, else a name.

    Reduced to ``[a-z0-9_.-]`` (no look-alike letters, no ``@``, nothing a
    username validator refuses), at most 30 characters; ``user`` when
    nothing is left.
    """
    data = sociallogin.account.extra_data or {}
    email, _ = _asserted_email(sociallogin)
    candidates = [
        data.get("login"),
        data.get("preferred_username"),
        getattr(sociallogin.user, "username", ""),
        email.split("@", 1)[0] if email else "",
        data.get("name"),
    ]
    for candidate in candidates:
        if not isinstance(candidate, str):
            continue
        ascii_form = unicodedata.normalize("NFKD", candidate).encode("ascii", "ignore").decode("ascii").lower()
        base = _USERNAME_UNSAFE.sub("", ascii_form.replace(" ", "."))[:30].strip(".-_")
        if base:
            return base
    return "user"


def _user_create(*, sociallogin: SocialLogin, email: str) -> User:
    base = username_derive(sociallogin)
    extra = sociallogin.user
    for attempt in range(8):
        username = base if attempt == 0 else f"{base}{secrets.randbelow(10**6):06d}"
        if User.objects.username_taken(username):
            continue
        try:
            with transaction.atomic():
                # Only these fields: is_staff, is_superuser and every other
                # flag keep their defaults whatever the provider sent.
                user = User(
                    username=username,
                    email=User.objects.normalize_email(email),
                    first_name=(getattr(extra, "first_name", "") or "")[:150],
                    last_name=(getattr(extra, "last_name", "") or "")[:150],
                )
                user.set_unusable_password()
                user.save()
            return user
        except IntegrityError:
            if email and User.objects.email_taken(email):
                raise SocialEmailTaken() from None
            continue  # the name was taken a moment ago: another suffix
    raise SocialEmailTaken()  # pragma: no cover - eight collisions in a row


def _account_save(*, request: HttpRequest, sociallogin: SocialLogin, user: User, new_user: bool) -> None:
    """Store the provider's identity on ``user`` and the addresses the provider vouches for."""
    sociallogin.user = user
    sociallogin.account.user = user
    sociallogin.account.save()
    for address in sociallogin.email_addresses:
        if not address.email:
            continue
        if address.verified and EmailAddress.objects.filter(email__iexact=address.email, verified=True).exclude(user=user).exists():
            continue  # another account's proven address stays theirs (a linked provider may assert it too)
        existing = EmailAddress.objects.filter(user=user, email__iexact=address.email).first()
        if existing is None:
            if address.verified or (new_user and address.email.lower() == user.email.lower()):
                is_primary = address.email.lower() == user.email.lower() and not EmailAddress.objects.filter(user=user, primary=True).exists()
                EmailAddress.objects.create(user=user, email=address.email, verified=bool(address.verified), primary=is_primary)
        elif address.verified and not existing.verified:
            existing.verified = True
            existing.save(update_fields=["verified"])


def social_accounts_drop(*, user: User) -> list[str]:
    """Unlink every provider identity of ``user`` (inside the caller's transaction); their providers.

    For the moment someone proves owning the account's address that nobody
    had proved before (a provider vouching for it, a password reset by its
    link): every way in set up before then may be an attacker's who
    registered the address first (account pre-hijacking). The caller
    audits with ``social_accounts_dropped_audit`` once committed.
    """
    providers = []
    for account in SocialAccount.objects.filter(user=user).order_by("pk"):
        providers.append(account.provider)
        account.delete()
    return providers


def social_accounts_dropped_audit(*, request: HttpRequest | None, user: User, providers: list[str], by: str) -> None:
    """One ``social_unlinked`` row per identity ``social_accounts_drop`` removed (reason ``address_claimed``)."""
    for provider in providers:
        audit_record(
            action=AuditAction.SOCIAL_UNLINKED, request=request, user=user, method=METHOD,
            data={"provider": provider, "reason": "address_claimed", "by": by},
        )


def social_user_resolve(*, request: HttpRequest, sociallogin: SocialLogin) -> User:
    """The account a provider's identity signs in to, linking or creating as the rules above say."""
    if sociallogin.is_existing:
        return sociallogin.user
    try:
        return _user_resolve_unlinked(request=request, sociallogin=sociallogin)
    except (IntegrityError, SocialEmailTaken):
        # A sign-in of the same identity may have won a race with this one
        # (its transaction committed first): its link is this identity's too.
        linked = SocialAccount.objects.select_related("user").filter(
            provider=sociallogin.account.provider, uid=sociallogin.account.uid
        ).first()
        if linked is None:
            raise SocialEmailTaken() from None
        sociallogin.account = linked
        sociallogin.user = linked.user
        return linked.user


def _user_resolve_unlinked(*, request: HttpRequest, sociallogin: SocialLogin) -> User:
    provider = provider_of(sociallogin)
    for email in _verified_emails(sociallogin):
        user = _user_by_email(email)
        if user is None:
            continue
        if not user.is_active:
            return user  # refused by the sign-in flow; nothing of the account is changed
        if user.is_staff or user.is_superuser:
            # A provider's say-so about an email is never a way into the
            # admin: staff sign in with their password and link a provider
            # themselves (connected accounts), or an operator links it.
            raise SocialEmailTaken()
        unlinked: list[str] = []
        with transaction.atomic():
            user = User.objects.select_for_update().get(pk=user.pk)
            claimed = not _address_verified(user, email)
            if claimed:
                # Pre-hijacking: whoever set up this account never proved the
                # address; the provider just did. Every earlier way in goes:
                # the password (the save revokes every credential of the
                # account, users/receivers.py, even when it was unusable
                # already) and the provider identities linked before.
                unlinked = social_accounts_drop(user=user)
                user.set_unusable_password()
                user.save(update_fields=["password"])
            _account_save(request=request, sociallogin=sociallogin, user=user, new_user=False)
        social_accounts_dropped_audit(request=request, user=user, providers=unlinked, by=provider)
        audit_record(
            action=AuditAction.SOCIAL_LINKED, request=request, user=user, method=METHOD,
            data={"provider": provider, "by": "verified_email", "password_disabled": claimed},
        )
        return user
    email, verified = _asserted_email(sociallogin)
    if email and _user_by_email(email) is not None:
        raise SocialEmailTaken()
    with transaction.atomic():
        user = _user_create(sociallogin=sociallogin, email=email)
        _account_save(request=request, sociallogin=sociallogin, user=user, new_user=True)
    audit_record(action=AuditAction.USER_REGISTERED, request=request, user=user, method=METHOD, data={"provider": provider})
    audit_record(action=AuditAction.SOCIAL_LINKED, request=request, user=user, method=METHOD, data={"provider": provider, "by": "signup"})
    return user


def social_signin(*, request: HttpRequest, sociallogin: SocialLogin) -> SignInResult:
    """Resolve the identity and run the sign-in flow's rules; the caller issues the credential.

    The per-address throttle was counted by the entry point before the
    provider was asked (``signin_throttle_address``).
    """
    provider = provider_of(sociallogin)
    try:
        user = social_user_resolve(request=request, sociallogin=sociallogin)
    except DomainError as exc:
        audit_record(
            action=AuditAction.LOGIN_FAILED, request=request, method=METHOD,
            data={"provider": provider, "reason": getattr(exc, "code", "failed")},
        )
        raise
    return signin_external(request=request, user=user, method=METHOD, data={"provider": provider})


def social_link(*, request: HttpRequest, user: User, sociallogin: SocialLogin) -> SocialAccount:
    """Link a provider identity to the signed-in ``user`` (explicit linking)."""
    provider = provider_of(sociallogin)
    if sociallogin.is_existing:
        if sociallogin.user.pk != user.pk:
            raise SocialAccountTaken()
        return sociallogin.account  # linked already: nothing changes
    try:
        with transaction.atomic():
            _account_save(request=request, sociallogin=sociallogin, user=user, new_user=False)
    except IntegrityError:
        raise SocialAccountTaken() from None  # linked by someone else a moment ago
    audit_record(action=AuditAction.SOCIAL_LINKED, request=request, user=user, method=METHOD, data={"provider": provider, "by": "user"})
    return sociallogin.account


def social_unlink(*, request: HttpRequest, user: User, account_id: int) -> None:
    """Unlink one of ``user``'s provider identities; the last way to sign in is kept.

    Another user's id answers like an unknown one. The check and the delete
    run under a lock on the user's row, so two unlinks at once cannot each
    see the other's account still there.
    """
    with transaction.atomic():
        locked = User.objects.select_for_update().filter(pk=user.pk).values_list("password", flat=True).first()
        accounts = list(SocialAccount.objects.filter(user=user))
        account = next((a for a in accounts if a.pk == account_id), None)
        if locked is None or account is None:
            raise SocialAccountNotFound()
        has_password = User(password=locked).has_usable_password()
        if not has_password and len(accounts) == 1:
            raise SocialLastSignIn()
        provider = account.provider
        account.delete()
    audit_record(action=AuditAction.SOCIAL_UNLINKED, request=request, user=user, method=METHOD, data={"provider": provider})


def social_signin_with_credential(*, request: HttpRequest, provider, credential) -> SignInResult:
    """The API flow: what the client got from the provider (``tokens.ProviderCredential``) → a sign-in.

    The entry point counted the per-address attempt before calling this (the
    provider is asked here). A credential the provider refuses is a failed
    sign-in: one ``login_failed`` row, then the error.
    """
    from bouncer.social.tokens import sociallogin_from_credential

    try:
        sociallogin = sociallogin_from_credential(request=request, provider=provider, credential=credential)
    except DomainError as exc:
        audit_record(
            action=AuditAction.LOGIN_FAILED, request=request, method=METHOD,
            data={"provider": provider.sub_id, "credential": credential.kind, "reason": exc.code},
        )
        raise
    return social_signin(request=request, sociallogin=sociallogin)


def social_link_with_credential(*, request: HttpRequest, user: User, provider, credential) -> SocialAccount:
    """Explicit linking through the API: the signed-in ``user`` proves a provider identity."""
    from bouncer.social.tokens import sociallogin_from_credential

    sociallogin = sociallogin_from_credential(request=request, provider=provider, credential=credential)
    return social_link(request=request, user=user, sociallogin=sociallogin)
