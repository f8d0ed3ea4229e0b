"""Moving in from a stock Django project: its users, then every other registered step.

``accounts_import`` is the service behind ``manage.py bouncer_import``: one
transaction over every step of the registry (bouncer/core/imports.py), so an
import is all or nothing, and one audit row per run. This module imports no
credential kind; the DRF token, OAuth2 and JWT steps register themselves.

Users keep their password hash as it is (Django's ``pbkdf2_sha256`` is in
``PASSWORD_HASHERS`` after Argon2id, so it verifies, and Django re-hashes it
with Argon2id at the next sign-in, whatever the way in). Groups and
per-user permissions are not imported: an imported account keeps its
``is_staff`` / ``is_superuser`` flags and nothing more.
"""

from __future__ import annotations

from collections import defaultdict

from django.contrib.auth.hashers import identify_hasher, is_password_usable
from django.db import transaction
from django.utils import timezone

from bouncer.audit.models import AuditAction
from bouncer.audit.services import audit_record
from bouncer.core.identifiers import identifier_normalize
from bouncer.core.imports import (
    ImportContext,
    ImportRefused,
    ImportReport,
    SourceDatabase,
    import_steps,
    in_batches,
    source_datetime,
)
from bouncer.users.models import User

ITEM = "users"
COLUMNS = (
    "id", "password", "last_login", "is_superuser", "username", "first_name", "last_name",
    "email", "is_staff", "is_active", "date_joined",
)


class _Rollback(Exception):
    """Ends a dry run's transaction after every step ran."""


def accounts_import(*, source_url: str, dry_run: bool = False, skip_collisions: bool = False) -> ImportReport:
    """Import everything the registered steps know from the database at ``source_url``.

    Raises ``ImportSourceError`` (URL wrong, unreachable, not Django) or
    ``ImportRefused`` (collisions) before anything is written; any other
    error rolls the whole run back. ``dry_run`` runs every step and rolls
    back, so its counts are exactly what a real run would do. One audit row
    per run that imported anything.
    """
    source = SourceDatabase(source_url)
    report = ImportReport()
    try:
        context = ImportContext(source=source, report=report, now=timezone.now())
        try:
            with transaction.atomic():
                for step in import_steps():
                    step.run(context=context, skip_collisions=skip_collisions)
                if dry_run:
                    raise _Rollback
                if not report.imported():
                    return report  # a rerun with nothing new changes nothing, not even the audit log
                audit_record(
                    action=AuditAction.ACCOUNTS_IMPORTED,
                    request=None,
                    method="import",
                    data={"source": source.vendor, "counts": report.summary(), "warnings": len(report.warnings)},
                )
        except _Rollback:
            pass
    finally:
        source.close()
    return report


def _normalized_groups(rows: list[dict], column: str) -> list[list[dict]]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        value = row[column] or ""
        if value:
            groups[identifier_normalize(value)].append(row)
    return [group for group in groups.values() if len(group) > 1]


def _describe(row: dict) -> str:
    return f"id {row['id']} {row['username']!r}" + (f" <{row['email']}>" if row["email"] else "")


class UsersImport:
    """``auth_user`` rows → Bouncer users, matched by normalised username."""

    order = 0
    name = "users"

    def run(self, *, context: ImportContext, skip_collisions: bool) -> None:
        report = context.report
        rows = context.source.rows(f"SELECT {', '.join(COLUMNS)} FROM auth_user ORDER BY id")
        for row in rows:
            for name in ("last_login", "date_joined"):
                row[name] = source_datetime(row[name])
            for name in ("is_superuser", "is_staff", "is_active"):
                row[name] = bool(row[name])
        self._load_existing(rows)
        collisions = self._collisions(rows)
        problems = [text for text, _ in collisions]
        if problems and not skip_collisions:
            raise ImportRefused(
                f"{len(problems)} collision(s): accounts that would become one in Bouncer "
                "(usernames and emails are unique after NFKC + casefold); nothing was imported. "
                "Rename one of each in the old database, or rerun with --skip-collisions to leave them out.",
                problems,
            )
        report.warnings += problems
        colliding = {row_id for _, ids in collisions for row_id in ids}
        for row in rows:
            if row["id"] in colliding:
                context.skipped_users.add(row["id"])
                report.count(ITEM, "skipped: collision")
                continue
            if not row["is_active"]:
                context.inactive.add(row["id"])
            context.users[row["id"]] = self._import_one(row=row, context=context)
        self._hash_notes(rows=[row for row in rows if row["id"] not in colliding], report=report)
        for table, what in (("auth_user_groups", "group memberships"), ("auth_user_user_permissions", "per-user permissions")):
            if context.source.has_table(table):
                (n,) = context.source.rows(f"SELECT COUNT(*) AS n FROM {table}")[0].values()
                if n:
                    report.notes.append(
                        f"{n} {what} not imported: imported accounts keep is_staff/is_superuser and nothing more; grant others again in the admin"
                    )

    def _load_existing(self, rows: list[dict]) -> None:
        """Bouncer's users the old ones could meet, by normalised username and email: a few
        queries in all, not a few per old user."""
        names = {identifier_normalize(row["username"]) for row in rows}
        emails = {identifier_normalize(row["email"]) for row in rows if row["email"]}
        self._by_name = {
            user.username_normalized: user
            for batch in in_batches(names)
            for user in User.objects.filter(username_normalized__in=batch).only("pk", "username", "username_normalized", "date_joined")
        }
        self._by_email = {
            user.email_normalized: user
            for batch in in_batches(emails)
            for user in User.objects.filter(email_normalized__in=batch).only("pk", "username", "username_normalized", "email_normalized")
        }

    def _collisions(self, rows: list[dict]) -> list[tuple[str, set[int]]]:
        """Old accounts that would be one Bouncer account, and old accounts that
        would take the name or address of an account Bouncer already has: each
        as its description and the old ids it leaves out."""
        problems = []
        for column in ("username", "email"):
            for group in _normalized_groups(rows, column):
                text = f"{column} collision between old users " + ", ".join(_describe(row) for row in group)
                problems.append((text, {row["id"] for row in group}))
        for row in rows:
            existing = self._existing(row)
            if existing is not None and not self._same(existing, row):
                text = f"old user {_describe(row)} collides with Bouncer user id {existing.pk} {existing.username!r}"
                problems.append((text, {row["id"]}))
            email = identifier_normalize(row["email"] or "")
            if email:
                owner = self._by_email.get(email)
                if owner is not None and owner.username_normalized != identifier_normalize(row["username"]):
                    text = f"old user {_describe(row)} has the email of Bouncer user id {owner.pk} {owner.username!r}"
                    problems.append((text, {row["id"]}))
        return problems

    def _existing(self, row: dict) -> User | None:
        return self._by_name.get(identifier_normalize(row["username"]))

    @staticmethod
    def _same(existing: User, row: dict) -> bool:
        """The account an earlier run imported: same username as typed, same sign-up time."""
        return existing.username == row["username"] and existing.date_joined == row["date_joined"]

    def _import_one(self, *, row: dict, context: ImportContext) -> int:
        existing = self._existing(row)
        if existing is not None:  # _collisions let it through: an earlier run's
            context.report.count(ITEM, "already present")
            return existing.pk
        context.fresh_users.add(row["id"])
        user = User(
            username=row["username"],
            email=row["email"] or "",
            first_name=row["first_name"] or "",
            last_name=row["last_name"] or "",
            is_active=row["is_active"],
            is_staff=row["is_staff"],
            is_superuser=row["is_superuser"],
            date_joined=row["date_joined"] or context.now,
            last_login=row["last_login"],
            # The hash as it is: verified by its own hasher, upgraded at the next sign-in.
            password=row["password"] or "",
        )
        if not user.password:
            user.set_unusable_password()
        user.save()
        context.report.count(ITEM, "imported")
        if user.is_staff or user.is_superuser:
            context.report.count(ITEM, "of them staff" if not user.is_superuser else "of them superusers")
        return user.pk

    @staticmethod
    def _hash_notes(*, rows: list[dict], report: ImportReport) -> None:
        algorithms: dict[str, int] = defaultdict(int)
        unknown = []
        for row in rows:
            password = row["password"] or ""
            if not is_password_usable(password):
                algorithms["unusable (no password sign-in)"] += 1
                continue
            try:
                algorithms[identify_hasher(password).algorithm] += 1
            except ValueError:
                unknown.append(row["username"])
        if algorithms:
            report.notes.append(
                "password hashes kept as they are: "
                + ", ".join(f"{n} {name}" for name, n in sorted(algorithms.items()))
                + "; each is re-hashed with Argon2id at the user's next sign-in"
            )
        if unknown:
            report.warnings.append(
                f"{len(unknown)} password hash(es) of an algorithm Bouncer has no hasher for "
                f"(first: {', '.join(unknown[:5])}): these users must reset their password"
            )
