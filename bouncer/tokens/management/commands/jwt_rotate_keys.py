"""Rotate the JWT signing key: a new current key, the previous ones kept.

Tokens signed with a previous key keep verifying (their ``kid`` is still in
the ring and in the JWKS) until they expire; retire a key with ``--retire KID``
once the refresh lifetime has passed since the rotation. Every process picks
the new ring up at its next request (bouncer.tokens.jwt.keys).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bouncer.core.keyfiles import key_ring_file_read, key_ring_file_write
from bouncer.tokens.jwt.keys import key_ring_reset, new_ring_entry


class Command(BaseCommand):
    help = "Add a new current JWT signing key (previous keys stay valid), or retire an old one."

    def add_arguments(self, parser):
        parser.add_argument("--retire", metavar="KID", help="remove this key id from the ring instead of rotating")

    def handle(self, *args, retire=None, **options):
        conf = settings.BOUNCER_JWT
        if conf["ALGORITHM"] == "HS256":
            raise CommandError("HS256 uses one shared secret (BOUNCER_JWT_HS_SECRET); there is no key ring to rotate.")
        if conf["PRIVATE_KEY"]:
            raise CommandError("BOUNCER_JWT_PRIVATE_KEY is set: the key comes from the environment, not the key ring.")
        path = Path(conf["KEYS_FILE"])
        entries = key_ring_file_read(path)
        if retire:
            if entries and entries[0]["kid"] == retire:
                raise CommandError("Refusing to retire the current key; rotate first.")
            kept = [entry for entry in entries if entry["kid"] != retire]
            if len(kept) == len(entries):
                raise CommandError(f"No key {retire!r} in {path}.")
            key_ring_file_write(path, kept)
            self.stdout.write(f"Retired {retire}; {len(kept)} key(s) left.")
        else:
            entry = new_ring_entry(conf["ALGORITHM"])
            key_ring_file_write(path, [entry, *entries])
            self.stdout.write(f"New current key {entry['kid']}; {len(entries)} previous key(s) still verify.")
        key_ring_reset()
