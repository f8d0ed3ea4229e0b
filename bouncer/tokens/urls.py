from django.urls import path

from bouncer.tokens.opaque import api

app_name = "auth-token"

urlpatterns = [
    path("", api.TokenLoginApi.as_view(), name="login"),
    path("logout/", api.TokenLogoutApi.as_view(), name="logout"),
]
