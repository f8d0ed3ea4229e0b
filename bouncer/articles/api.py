"""``/api/articles/``: any signed-in user reads and writes their own; staff edit all."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from bouncer.articles import services
from bouncer.articles.models import Article
from bouncer.articles.permissions import IsAuthor, IsReadOnly, IsStaff
from bouncer.articles.serializers import ArticleInput, ArticleOutput
from bouncer.core.permissions import OAuth2MethodScope


@extend_schema_view(
    list=extend_schema(summary="List articles"),
    retrieve=extend_schema(summary="Read an article"),
    create=extend_schema(summary="Write an article (you are its author)", request=ArticleInput, responses={201: ArticleOutput}),
    update=extend_schema(summary="Replace an article (its author or staff)", request=ArticleInput, responses={200: ArticleOutput}),
    partial_update=extend_schema(summary="Edit an article (its author or staff)", request=ArticleInput, responses={200: ArticleOutput}),
    destroy=extend_schema(summary="Delete an article (its author or staff)"),
)
class ArticleViewSet(viewsets.ModelViewSet):
    # Creating makes the caller the author, so IsAuthor (object-only) lets any
    # signed-in user create, while changing an existing article needs
    # authorship or staff.
    # OAuth2 tokens also need `read` to read and `write` to write.
    permission_classes = [IsAuthenticated & OAuth2MethodScope & (IsReadOnly | IsAuthor | IsStaff)]
    serializer_class = ArticleOutput
    queryset = Article.objects.select_related("author")

    def create(self, request, *args, **kwargs):
        data = ArticleInput(data=request.data)
        data.is_valid(raise_exception=True)
        article = services.article_create(author=request.user, **data.validated_data)
        return Response(ArticleOutput(article).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        article = self.get_object()
        data = ArticleInput(article, data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        article = services.article_update(article=article, data=data.validated_data)
        return Response(ArticleOutput(article).data)
