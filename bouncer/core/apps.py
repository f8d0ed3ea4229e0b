from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "bouncer.core"
    label = "bouncer_core"
    verbose_name = "Bouncer core"
