"""Accounts whose address was changed before the rows followed it (``PATCH /api/accounts/profile/``
changed only ``user.email``): make ``user.email`` their primary ``EmailAddress`` now.

Only accounts with a primary row whose address is not ``user.email``. The
row of ``user.email`` keeps its verified flag, or is created unverified; no
row is deleted and no mail is sent. Under ``mandatory`` such an account
confirms its address with the resend endpoint (docs/email.md).
"""

from django.db import migrations


def rows_follow(apps, schema_editor):
    EmailAddress = apps.get_model("account", "EmailAddress")
    for primary in EmailAddress.objects.filter(primary=True).select_related("user").iterator():
        user = primary.user
        if not user.email or primary.email.lower() == user.email.lower():
            continue
        own = EmailAddress.objects.filter(user=user, email__iexact=user.email).order_by("-verified", "pk").first()
        EmailAddress.objects.filter(pk=primary.pk).update(primary=False)
        if own is None:
            EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
        else:
            EmailAddress.objects.filter(pk=own.pk).update(primary=True)


class Migration(migrations.Migration):

    dependencies = [
        ("users", "0004_email_optional"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [migrations.RunPython(rows_follow, migrations.RunPython.noop)]
