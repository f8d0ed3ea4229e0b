from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "bouncer.core"
    label = "bouncer_core"
    verbose_name = "Bouncer core"

    def ready(self):
        from bouncer.core import (
            checks,  # noqa: F401  (registers the posture check)
            serving,  # noqa: F401  (registers the signing-key deploy check)
        )
