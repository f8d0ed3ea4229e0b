from rest_framework.routers import SimpleRouter

from bouncer.articles.api import ArticleViewSet

router = SimpleRouter()
router.register("articles", ArticleViewSet, basename="article")

urlpatterns = router.urls
