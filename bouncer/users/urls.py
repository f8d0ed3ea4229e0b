from django.urls import path

from bouncer.audit.api import AuditEventListApi
from bouncer.users import api

app_name = "accounts"

urlpatterns = [
    path("register/", api.UserRegisterApi.as_view(), name="register"),
    path("profile/", api.ProfileApi.as_view(), name="profile"),
    path("password/change/", api.PasswordChangeApi.as_view(), name="password-change"),
    path("login/", api.SessionLoginApi.as_view(), name="login"),
    path("logout/", api.SessionLogoutApi.as_view(), name="logout"),
    path("csrf/", api.CsrfTokenApi.as_view(), name="csrf"),
    path("users/", api.UserListApi.as_view(), name="user-list"),
    path("events/", AuditEventListApi.as_view(), name="event-list"),
    path("sessions/", api.SessionListApi.as_view(), name="session-list"),
    path("sessions/revoke-others/", api.SessionRevokeOthersApi.as_view(), name="session-revoke-others"),
    path("sessions/<str:credential_id>/", api.SessionRevokeApi.as_view(), name="session-revoke"),
]
