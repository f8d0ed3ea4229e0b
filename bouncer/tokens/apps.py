from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "bouncer.tokens"
    label = "tokens"
    verbose_name = "Tokens"

    def ready(self) -> None:
        from bouncer.tokens import receivers  # noqa: F401 - cache invalidation
        from bouncer.tokens.jwt import schema as jwt_schema  # noqa: F401 - OpenAPI scheme
        from bouncer.tokens.opaque import schema  # noqa: F401 - registers the OpenAPI scheme
