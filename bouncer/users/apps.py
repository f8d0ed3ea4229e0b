from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "bouncer.users"
    label = "users"
    verbose_name = "Users"

    def ready(self) -> None:
        from bouncer.users import receivers, schema  # noqa: F401 - signal receivers, OpenAPI scheme
