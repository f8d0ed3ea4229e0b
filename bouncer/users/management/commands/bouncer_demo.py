"""Create the demo user, the demo staff user and the demo OAuth client for the dev server, and print them.

Development only: in production mode (BOUNCER_ENV=production) it refuses and
creates nothing. Passwords are random, made on first start and kept in the
git-ignored local directory so later starts can print them again. The demo
OAuth client comes from the oauth app's ``oauth_demo_client`` command. Reruns
leave everything as it is.
"""

from __future__ import annotations

import json
import secrets

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from bouncer.core.files import file_write_owner_only
from bouncer.users.models import User

DEMO_USERS = (
    {"username": "demo", "email": "demo@example.com", "is_staff": False},
    {"username": "demo-staff", "email": "demo-staff@example.com", "is_staff": True},
)

class Command(BaseCommand):
    help = "Create the demo users and the demo OAuth client (development only) and print them."

    def handle(self, *args, **options) -> None:
        if settings.BOUNCER_PRODUCTION:
            raise CommandError("Refusing to create demo users in production mode (BOUNCER_ENV=production).")
        path = settings.BOUNCER_LOCAL_DIR / "demo-credentials.json"
        saved = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        credentials: dict[str, str] = {}
        with transaction.atomic():
            for spec in DEMO_USERS:
                username = spec["username"]
                user = User.objects.filter(username=username).first()
                if user is None:
                    password = secrets.token_urlsafe(12)
                    User.objects.create_user(password=password, **spec)
                    credentials[username] = password
                elif username in saved:
                    credentials[username] = saved[username]
        if credentials:
            file_write_owner_only(path, json.dumps({**saved, **credentials}))
        self.stdout.write("Demo accounts (development only):")
        for spec in DEMO_USERS:
            password = credentials.get(spec["username"], "(unknown: created before, see var/ or reset it)")
            role = "staff" if spec["is_staff"] else "user"
            self.stdout.write(f"  {role:5}  username={spec['username']}  password={password}")
        # The oauth app's own command (the users app imports no credential kind).
        call_command("oauth_demo_client", stdout=self.stdout)
