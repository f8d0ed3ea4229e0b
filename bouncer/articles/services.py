from bouncer.articles.models import Article


def article_create(*, author, title: str, body: str) -> Article:
    return Article.objects.create(author=author, title=title, body=body)


def article_update(*, article: Article, data: dict) -> Article:
    for field, value in data.items():
        setattr(article, field, value)
    article.save(update_fields=[*data.keys(), "updated_at"])
    return article
