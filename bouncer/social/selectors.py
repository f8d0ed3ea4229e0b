"""Reads: the provider identities linked to a user."""

from __future__ import annotations

from allauth.socialaccount.models import SocialAccount


def social_account_list_for_user(*, user) -> list[SocialAccount]:
    return list(SocialAccount.objects.filter(user=user).order_by("date_joined", "pk"))


def social_account_email(account: SocialAccount) -> str:
    """The address the provider gave, from what allauth kept of its answer (no provider call)."""
    data = account.extra_data if isinstance(account.extra_data, dict) else {}
    for source in (data.get("userinfo"), data.get("id_token"), data):
        if isinstance(source, dict) and isinstance(source.get("email"), str):
            return source["email"]
    emails = data.get("emails")  # GitHub's /user/emails, when allauth kept it
    if isinstance(emails, list):
        for item in emails:
            if isinstance(item, dict) and item.get("primary") and isinstance(item.get("email"), str):
                return item["email"]
    return ""
