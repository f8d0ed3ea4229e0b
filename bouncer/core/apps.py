from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "bouncer.core"
    label = "bouncer_core"
    verbose_name = "Bouncer core"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from bouncer.core import (
            checks,  # noqa: F401  (registers the posture check)
            serving,  # noqa: F401  (registers the signing-key deploy check)
        )
        from bouncer.core.metrics import session_login_received

        # Every session sign-in calls django.contrib.auth.login(): a session issued (metrics).
        user_logged_in.connect(session_login_received, dispatch_uid="bouncer_metrics_session_issued")
