"""Import users, DRF tokens and OAuth2 applications and tokens from a stock Django project.

    manage.py bouncer_import --source sqlite:////srv/old/db.sqlite3 --dry-run
    manage.py bouncer_import --source postgres://user@db/oldproject

One transaction: all or nothing. Reruns import only what is new. The walk-through
(before, run, verify, roll back, what clients notice) is docs/migrating.md.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from bouncer.core.imports import ImportRefused, ImportSourceError, url_redacted
from bouncer.users.imports import accounts_import


class Command(BaseCommand):
    help = "Import users, DRF tokens and OAuth2 applications and live tokens from another Django project's database."

    def add_arguments(self, parser):
        parser.add_argument("--source", required=True, help="The old project's database URL (sqlite:///... or postgres://...); read only.")
        parser.add_argument("--dry-run", action="store_true", help="Run every step, report the counts, then roll back.")
        parser.add_argument(
            "--skip-collisions", action="store_true",
            help="Leave out accounts that would become one in Bouncer (reported) instead of refusing the whole import.",
        )
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print the report as one JSON object.")

    def handle(self, *args, source: str, dry_run: bool, skip_collisions: bool, as_json: bool = False, **options):
        try:
            report = accounts_import(source_url=source, dry_run=dry_run, skip_collisions=skip_collisions)
        except ImportSourceError as exc:
            raise CommandError(f"source database: {exc}") from None
        except ImportRefused as exc:
            raise CommandError("\n".join([f"import refused: {exc}", *(f"  - {problem}" for problem in exc.problems)])) from None
        except Exception as exc:  # any other failure: the transaction is rolled back, say so
            raise CommandError(f"import failed, nothing was written ({type(exc).__name__}: {exc})") from exc
        header = f"{'dry run (nothing written)' if dry_run else 'imported'} from {url_redacted(source)}"
        if as_json:
            self.stdout.write(_json_dumps({
                "dry_run": dry_run, "counts": report.summary(), "warnings": report.warnings, "notes": report.notes,
            }))
            return
        self.stdout.write(header)
        for line in report.lines():
            self.stdout.write(f"  {line}")


def _json_dumps(value) -> str:
    return json.dumps(value, sort_keys=True)
