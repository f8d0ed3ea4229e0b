from django.contrib import admin

from bouncer.articles.models import Article


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ("title", "author", "created_at", "updated_at")
    search_fields = ("title", "author__username")
    list_select_related = ("author",)
    raw_id_fields = ("author",)
