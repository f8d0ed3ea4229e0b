from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "bouncer.audit"
    label = "audit"
    verbose_name = "Audit log"
