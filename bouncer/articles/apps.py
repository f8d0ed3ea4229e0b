from django.apps import AppConfig


class ArticlesConfig(AppConfig):
    name = "bouncer.articles"
    label = "articles"
    verbose_name = "Articles (demo resource)"
