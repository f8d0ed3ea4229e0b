from rest_framework import serializers

from bouncer.articles.models import Article
from bouncer.core.fields import StrictCharField


class ArticleOutput(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)

    class Meta:
        model = Article
        fields = ["id", "title", "body", "author", "created_at", "updated_at"]
        read_only_fields = fields


class ArticleInput(serializers.ModelSerializer):
    title = StrictCharField(max_length=200)
    body = StrictCharField(max_length=100_000)

    class Meta:
        model = Article
        fields = ["title", "body"]
