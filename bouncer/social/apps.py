from django.apps import AppConfig


class SocialConfig(AppConfig):
    # Not "socialaccount": that label is allauth's (STYLE.md).
    name = "bouncer.social"
    label = "social"
    verbose_name = "Social sign-in"
