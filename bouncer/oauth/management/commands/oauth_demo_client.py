"""Create the demo OAuth client for the dev server (development only), and print it.

Public (no secret to keep): authorization code with PKCE and OpenID Connect,
redirecting to the dev server's own home page, so the flow can be tried with a
browser and curl alone. A rerun leaves it as it is. ``bouncer_demo`` (run by
``make run``) calls this command: the users app reaches no credential kind's
code directly (tests/security/test_credential_lifecycle.py).
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from oauth2_provider.models import AbstractApplication, get_application_model

from bouncer.oauth.services import oauth_client_create

#: Its redirect URIs are the home page of `make run`'s server (both spellings of the loopback address browsers use).
DEMO_CLIENT_ID = "bouncer-demo"
DEMO_REDIRECT_URIS = ("http://127.0.0.1:8000/", "http://localhost:8000/")


class Command(BaseCommand):
    help = "Create the demo OAuth client (development only) and print it."

    def handle(self, *args, **options) -> None:
        if settings.BOUNCER_PRODUCTION:
            raise CommandError("Refusing to create the demo OAuth client in production mode (BOUNCER_ENV=production).")
        if not get_application_model().objects.filter(client_id=DEMO_CLIENT_ID).exists():
            oauth_client_create(
                name="Bouncer demo client",
                client_id=DEMO_CLIENT_ID,
                client_type=AbstractApplication.CLIENT_PUBLIC,
                grant_type=AbstractApplication.GRANT_AUTHORIZATION_CODE,
                redirect_uris=" ".join(DEMO_REDIRECT_URIS),
                post_logout_redirect_uris=" ".join(DEMO_REDIRECT_URIS),
            )
        self.stdout.write("Demo OAuth client (development only; public: authorization code + PKCE, OpenID Connect):")
        self.stdout.write(f"  client_id={DEMO_CLIENT_ID}  redirect_uri={DEMO_REDIRECT_URIS[0]}")
