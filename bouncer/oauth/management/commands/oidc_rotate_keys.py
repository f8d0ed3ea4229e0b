"""Add a new id_token signing key; the previous ones stay in the JWKS.

Writes the key ring (BOUNCER_OIDC_KEYS_FILE). Every process, on every node
reading that file, loads it at its next /o/ request (bouncer/oauth/keyring.py):
the new key signs from then on, no restart needed; id_tokens signed by the
previous keys keep verifying (they stay in the JWKS).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bouncer.oauth.keys import KEEP_PREVIOUS, oidc_ring_rotate


class Command(BaseCommand):
    help = "Rotate the OpenID Connect id_token signing key (RS256)."

    def add_arguments(self, parser):
        parser.add_argument("--keep", type=int, default=KEEP_PREVIOUS, help="previous keys kept for verification")

    def handle(self, *args, **options):
        conf = settings.BOUNCER_OAUTH
        if conf["OIDC_SINGLE_KEY"]:
            raise CommandError("BOUNCER_OIDC_PRIVATE_KEY is set: a single key has no ring to rotate")
        entry = oidc_ring_rotate(Path(conf["OIDC_KEYS_FILE"]), keep=options["keep"])
        self.stdout.write(f"new signing key kid={entry['kid']} in {conf['OIDC_KEYS_FILE']}; every node signs with it from its next request")
