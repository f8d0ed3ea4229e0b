"""/o/: django-oauth-toolkit's endpoints, with Bouncer's subclasses where it changes them.

The namespace stays ``oauth2_provider`` because the toolkit reverses its own
URL names (discovery, redirects). Dynamic client registration and client ID
metadata documents are off, so their routes are not mounted.
"""

from django.urls import path, re_path
from oauth2_provider import views as dot_views

from bouncer.oauth import views

app_name = "oauth2_provider"

urlpatterns = [
    path("authorize/", views.AuthorizationView.as_view(), name="authorize"),
    path("token/", views.TokenView.as_view(), name="token"),
    path("revoke_token/", views.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", views.IntrospectTokenView.as_view(), name="introspect"),
    # Device authorization (RFC 8628)
    path("device-authorization/", views.DeviceAuthorizationView.as_view(), name="device-authorization"),
    path("device/", dot_views.DeviceUserCodeView.as_view(), name="device"),
    path("device-confirm/<slug:client_id>/<slug:user_code>", dot_views.DeviceConfirmView.as_view(), name="device-confirm"),
    path(
        "device-grant-status/<slug:client_id>/<slug:user_code>",
        dot_views.DeviceGrantStatusView.as_view(),
        name="device-grant-status",
    ),
    # OpenID Connect
    re_path(r"^\.well-known/openid-configuration/?$", views.ConnectDiscoveryInfoView.as_view(), name="oidc-connect-discovery-info"),
    path(".well-known/jwks.json", dot_views.JwksInfoView.as_view(), name="jwks-info"),
    path(".well-known/oauth-authorization-server", dot_views.OAuthServerMetadataView.as_view(), name="oauth-server-metadata"),
    path("userinfo/", dot_views.UserInfoView.as_view(), name="user-info"),
    path("logout/", views.RPInitiatedLogoutView.as_view(), name="rp-initiated-logout"),
    # Application management (signed-in users manage their own clients)
    path("applications/", dot_views.ApplicationList.as_view(), name="list"),
    path("applications/register/", views.ApplicationRegistrationView.as_view(), name="register"),
    path("applications/<slug:pk>/", dot_views.ApplicationDetail.as_view(), name="detail"),
    path("applications/<slug:pk>/delete/", dot_views.ApplicationDelete.as_view(), name="delete"),
    path("applications/<slug:pk>/update/", views.ApplicationUpdateView.as_view(), name="update"),
    # The applications a user authorized, and withdrawing consent
    path("authorized_tokens/", dot_views.AuthorizedTokensListView.as_view(), name="authorized-token-list"),
    path("authorized_tokens/<slug:pk>/delete/", views.AuthorizedTokenDeleteView.as_view(), name="authorized-token-delete"),
]
