"""Reads about a user's email addresses (allauth's ``EmailAddress`` rows).

Two questions, answered differently on purpose:

- ``email_address_verified``: has the person proved they receive mail at
  ``user.email``? Only a verified row says yes. The OpenID Connect
  ``email_verified`` claim is this answer: Bouncer vouches for an address
  only when it checked it.
- ``email_signin_allowed``: may this account sign in while verification is
  ``mandatory``? Every account Bouncer's own sign-up makes (the register API,
  the sign-up page, a social sign-up) has a *primary* row from the start, and
  an address change makes one, so for those the answer is "the row of
  ``user.email`` is verified". An account without a
  primary row was made by the operator (``createsuperuser``, the admin,
  ``bouncer_demo``): the operator vouches for it, and it may sign in. Not
  "no row at all": allauth's reset-token generator adds a non-primary,
  unverified row for ``user.email`` when it is missing, so a stranger asking
  for a reset of the admin's address would otherwise lock the admin out.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.conf import settings


def email_verification_mode() -> str:
    """``none`` | ``optional`` | ``mandatory`` (BOUNCER_EMAIL_VERIFICATION), read now."""
    return str(settings.ACCOUNT_EMAIL_VERIFICATION).lower()


def email_address_verified(*, user) -> bool:
    email = getattr(user, "email", "") or ""
    if not email or getattr(user, "pk", None) is None:
        return False
    return EmailAddress.objects.filter(user_id=user.pk, email__iexact=email, verified=True).exists()


def email_signin_allowed(*, user) -> bool:
    """False only for an account made by sign-up (or whose address was changed) while
    ``user.email`` is not confirmed.

    The address the account uses now, not "any verified row": after an
    address change the account keeps its old, verified row, and must
    confirm the new address before it gets a credential again.
    """
    rows = list(EmailAddress.objects.filter(user_id=user.pk).values_list("email", "verified", "primary"))
    if not any(primary for _, _, primary in rows):
        return True
    email = (getattr(user, "email", "") or "").lower()
    return any(verified and address.lower() == email for address, verified, _ in rows)
