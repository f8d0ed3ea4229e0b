"""Register an OAuth2 client of any type; prints its secret once (stored hashed)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from oauth2_provider.models import AbstractApplication

from bouncer.oauth.services import CLIENT_GRANT_TYPES, CLIENT_TYPES, oauth_client_create
from bouncer.users.models import User

GRANT_ALIASES = {
    "authorization-code": AbstractApplication.GRANT_AUTHORIZATION_CODE,
    "client-credentials": AbstractApplication.GRANT_CLIENT_CREDENTIALS,
    "password": AbstractApplication.GRANT_PASSWORD,
    "device-code": AbstractApplication.GRANT_DEVICE_CODE,
}


class Command(BaseCommand):
    help = "Create an OAuth2 application and print its client id and (once) its secret."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--type", dest="client_type", choices=CLIENT_TYPES, default="confidential")
        parser.add_argument("--grant", choices=sorted(GRANT_ALIASES), default="authorization-code")
        parser.add_argument("--redirect-uri", action="append", default=[], help="repeat for several (exact match)")
        parser.add_argument("--post-logout-redirect-uri", action="append", default=[])
        parser.add_argument("--skip-authorization", action="store_true", help="trusted first-party app: no consent page")
        parser.add_argument("--no-openid", action="store_true", help="no id_tokens (RS256 is set otherwise)")
        parser.add_argument("--owner", help="username owning the application (optional)")

    def handle(self, *args, **options):
        owner = None
        if options["owner"]:
            try:
                # The one username comparison (NFKC + casefold), as at sign-in.
                owner = User.objects.get_by_natural_key(options["owner"])
            except User.DoesNotExist:
                raise CommandError(f"No user {options['owner']!r}") from None
        grant = GRANT_ALIASES[options["grant"]]
        assert grant in CLIENT_GRANT_TYPES
        try:
            application, secret = oauth_client_create(
                name=options["name"],
                client_type=options["client_type"],
                grant_type=grant,
                redirect_uris=" ".join(options["redirect_uri"]),
                post_logout_redirect_uris=" ".join(options["post_logout_redirect_uri"]),
                skip_authorization=options["skip_authorization"],
                openid=not options["no_openid"],
                user=owner,
            )
        except ValidationError as exc:
            messages = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items())
            raise CommandError(messages) from None
        self.stdout.write(f"client_id={application.client_id}")
        if secret:
            self.stdout.write(f"client_secret={secret}")
            self.stdout.write("The secret is stored hashed and cannot be shown again: copy it now.")
