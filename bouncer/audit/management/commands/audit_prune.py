"""``manage.py audit_prune``: delete audit rows past the retention now, for operators who prefer cron."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from bouncer.audit.services import audit_prune, audit_retention_cutoff


class Command(BaseCommand):
    help = (
        "Delete audit rows older than BOUNCER_AUDIT_RETENTION_DAYS (or --days), in batches, until none is left. "
        "Bouncer also prunes as it runs (docs/operations.md, 'Audit retention'); 0 days keeps every row."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="Retention in days for this run (default: BOUNCER_AUDIT_RETENTION_DAYS).")
        parser.add_argument("--batch", type=int, default=1000, help="Rows deleted per statement (default 1000).")

    def handle(self, *args, **options):
        days, batch = options["days"], options["batch"]
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1 (to keep every row, run nothing)")
        if batch < 1 or batch > 10000:
            raise CommandError("--batch must be between 1 and 10000")
        now = timezone.now()  # one cutoff for the whole run: rows written meanwhile are never older
        cutoff = audit_retention_cutoff(now=now, days=days)
        if cutoff is None:
            self.stdout.write("BOUNCER_AUDIT_RETENTION_DAYS is 0: every audit row is kept, nothing deleted.")
            return
        total = 0
        while True:
            deleted = audit_prune(now=now, batch=batch, days=days)
            total += deleted
            if deleted < batch:
                break
        kept = days if days is not None else settings.BOUNCER_AUDIT_RETENTION_DAYS
        self.stdout.write(f"{total} audit row(s) older than {kept} days (before {cutoff:%Y-%m-%d %H:%M} UTC) deleted.")
