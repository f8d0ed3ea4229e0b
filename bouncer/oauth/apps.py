from django.apps import AppConfig


class OAuthConfig(AppConfig):
    name = "bouncer.oauth"
    # Not "oauth2_provider": that label belongs to django-oauth-toolkit.
    label = "oauth"
    verbose_name = "OAuth2 / OpenID Connect"

    def ready(self) -> None:
        from bouncer.oauth import receivers, schema  # noqa: F401 - signal receivers, OpenAPI scheme
