"""``/api/auth/social/`` and ``/api/auth/<provider>/`` (mounted under ``api/auth/`` in config/urls.py).

Order matters: the ``social/`` paths come first, so ``/api/auth/social/`` is
the list, never a provider named "social" (tokens.RESERVED_IDS refuses such
a name anyway, and the other words of /api/auth/).
"""

from django.urls import path

from bouncer.social import api

app_name = "social"

urlpatterns: list = [
    path("social/", api.SocialAccountListApi.as_view(), name="accounts"),
    path("social/<int:account_id>/", api.SocialAccountUnlinkApi.as_view(), name="account-unlink"),
    path("social/<str:provider>/", api.SocialAccountLinkApi.as_view(), name="account-link"),
    path("<str:provider>/", api.SocialSigninApi.as_view(), name="signin"),
]
