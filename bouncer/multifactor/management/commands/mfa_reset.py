"""``manage.py mfa_reset <username>``: a user lost every second factor; remove them and end every sign-in."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from bouncer.multifactor.services import MfaNothingToReset, mfa_factors_reset
from bouncer.users.models import User


class Command(BaseCommand):
    help = (
        "Remove every second factor of a user (TOTP, security keys, passkeys, recovery codes) and end "
        "every credential of theirs. Check who is asking first (docs/mfa.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, **options):
        try:
            # The one username comparison (NFKC + casefold), as at sign-in.
            user = User.objects.get_by_natural_key(options["username"])
        except User.DoesNotExist:
            raise CommandError(f"No user {options['username']!r}") from None
        try:
            reset = mfa_factors_reset(user=user, request=None, by="command")
        except MfaNothingToReset:
            raise CommandError(f"{user.username} has no second factor: nothing to reset.") from None
        self.stdout.write(
            f"{user.username}: {len(reset.factors)} factor(s) removed ({', '.join(sorted(set(reset.factors)))}), "
            f"{reset.revoked} credential(s) ended. They sign in again with their password"
            " (and enrol a factor again where one is required)."
        )
