"""Reads about a user's email addresses (allauth's ``EmailAddress`` rows).

Two questions, answered differently on purpose:

- ``email_address_verified``: has the person proved they receive mail at
  ``user.email``? Only a verified row says yes. The OpenID Connect
  ``email_verified`` claim is this answer: Bouncer vouches for an address
  only when it checked it.
- ``email_signin_allowed``: may this account sign in while verification is
  ``mandatory``? Every account Bouncer's own sign-up makes (the register API,
  the sign-up page, a social sign-up) has a *primary* row from the start, so
  for those the answer is "a verified row exists". An account without a
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
    """False only for an account made by sign-up whose address nobody has confirmed yet."""
    rows = list(EmailAddress.objects.filter(user_id=user.pk).values_list("verified", "primary"))
    if not any(primary for _, primary in rows):
        return True
    return any(verified for verified, _ in rows)
