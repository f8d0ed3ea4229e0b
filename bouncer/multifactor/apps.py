from django.apps import AppConfig


class MultifactorConfig(AppConfig):
    name = "bouncer.multifactor"
    # Not "mfa": that is allauth's app, which keeps the factors themselves.
    label = "multifactor"
    verbose_name = "Multi-factor sign-in"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from bouncer.multifactor import receivers  # noqa: F401
