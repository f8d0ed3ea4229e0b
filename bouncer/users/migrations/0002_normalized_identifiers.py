"""Usernames and emails unique after NFKC + casefold, on every backend.

The ``Lower(...)`` constraints of 0001 let ``Ärger`` and ``ärger`` be two
accounts on SQLite (its ``lower()`` is ASCII-only), and ``Ärger`` never sign
in there. This adds the normalised columns, fills them for existing rows,
makes them unique and drops the ``Lower(...)`` constraints they replace.

If existing accounts collide once normalised, the migration stops and names
them: rename one of each pair (``manage.py shell``) and run it again. It
never renames or merges accounts by itself.
"""

import unicodedata
from collections import defaultdict

from django.db import migrations, models


def _normalize(value):
    # A copy of bouncer.core.identifiers.identifier_normalize: a migration must
    # not import code that may change after it was written.
    return unicodedata.normalize("NFKC", value or "").casefold()


def fill_normalized(apps, schema_editor):
    User = apps.get_model("users", "User")
    db = schema_editor.connection.alias
    seen = {"username": defaultdict(list), "email": defaultdict(list)}
    rows = list(User.objects.using(db).only("pk", "username", "email").order_by("pk"))
    for user in rows:
        user.username_normalized = _normalize(user.username)
        user.email_normalized = _normalize(user.email)
        seen["username"][user.username_normalized].append(f"{user.pk}:{user.username}")
        seen["email"][user.email_normalized].append(f"{user.pk}:{user.username}")
    clashes = [f"{field} {value!r}: users {', '.join(ids)}" for field, values in seen.items()
               for value, ids in values.items() if len(ids) > 1]
    if clashes:
        raise RuntimeError(
            "These accounts are one account once usernames/emails are normalised (NFKC, casefold); "
            "rename one of each and migrate again: " + "; ".join(clashes)
        )
    User.objects.using(db).bulk_update(rows, ["username_normalized", "email_normalized"], batch_size=500)


class Migration(migrations.Migration):

    dependencies = [
        ("users", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="user", name="username_normalized", field=models.CharField(editable=False, max_length=600, null=True),
        ),
        migrations.AddField(
            model_name="user", name="email_normalized", field=models.CharField(editable=False, max_length=1024, null=True),
        ),
        migrations.RunPython(fill_normalized, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="user", name="username_normalized", field=models.CharField(editable=False, max_length=600, unique=True),
        ),
        migrations.AlterField(
            model_name="user", name="email_normalized", field=models.CharField(editable=False, max_length=1024, unique=True),
        ),
        migrations.RemoveConstraint(model_name="user", name="users_user_username_ci_unique"),
        migrations.RemoveConstraint(model_name="user", name="users_user_email_ci_unique"),
    ]
