from django.urls import path

from bouncer.tokens.jwt import api

app_name = "jwt"

urlpatterns = [
    path("", api.JwtObtainApi.as_view(), name="obtain"),
    path("refresh/", api.JwtRefreshApi.as_view(), name="refresh"),
    path("verify/", api.JwtVerifyApi.as_view(), name="verify"),
    path("blacklist/", api.JwtLogoutApi.as_view(), name="blacklist"),
]
