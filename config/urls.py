from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from bouncer.core import handlers
from bouncer.core import views as core_views
from bouncer.core.metrics import metrics_view
from bouncer.multifactor import api as mfa_api
from bouncer.tokens.jwt.api import jwks_view
from bouncer.users import views as users_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    # Prometheus; 404 unless the caller is allowed (BOUNCER_METRICS_*). Plain Django: not in the schema.
    path("metrics", metrics_view, name="metrics"),
    # The admin's login and password-change pages through the sign-in flow
    # (throttles, lockout, audit); before admin.site.urls so they resolve here.
    path("admin/login/", users_views.admin_sign_in, name="admin-login"),
    path("admin/password_change/", users_views.admin_password_change, name="admin-password-change"),
    path("admin/", admin.site.urls),
    # HTML pages (the OAuth2 authorization flow's sign-in page is LOGIN_URL)
    path("accounts/login/", users_views.sign_in, name="login"),
    path("accounts/login/passkey/", users_views.sign_in_passkey, name="login-passkey"),
    path("accounts/logout/", users_views.sign_out, name="logout"),
    path("accounts/sessions/", users_views.sessions_page, name="sessions"),
    path("accounts/sessions/revoke-others/", users_views.session_revoke_others, name="session-revoke-others"),
    path("accounts/sessions/<str:credential_id>/revoke/", users_views.session_revoke, name="session-revoke"),
    # A sign-in's second step (/accounts/login/mfa/...) and the Security section (/accounts/security/...).
    path("accounts/", include("bouncer.multifactor.page_urls")),
    path("accounts/", include("bouncer.users.email.page_urls")),
    # allauth's provider URLs (/accounts/<provider>/login/, .../callback/) and
    # the connected-accounts page; after every page of Bouncer's own.
    path("accounts/", include("bouncer.social.page_urls")),
    path("api/accounts/", include("bouncer.users.urls")),
    path("api/auth/mfa/", include("bouncer.multifactor.urls")),
    # Passwordless sign-in; before the social paths (social/tokens.py reserves "passkey").
    path("api/auth/passkey/begin/", mfa_api.PasskeyBeginApi.as_view(), name="api-passkey-begin"),
    path("api/auth/passkey/", mfa_api.PasskeySigninApi.as_view(), name="api-passkey-signin"),
    path("api/auth/", include("bouncer.users.email.urls")),
    path("api/auth/", include("bouncer.social.urls")),
    path("api/auth-token/", include("bouncer.tokens.urls")),
    path("api/token/", include("bouncer.tokens.jwt.urls")),
    path(".well-known/jwks.json", jwks_view, name="jwks"),
    path("api/", include("bouncer.articles.urls")),
    path("o/", include("bouncer.oauth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view: Swagger UI's start-up code is a script file (?script), not
    # inline, so the page runs under the Content-Security-Policy (security.py).
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="bouncer/swagger_ui.html"),
        name="swagger-ui",
    ),
    # Unknown API paths answer JSON even with DEBUG on (handler404 only runs
    # with it off), and a POST there is 404, not a CSRF 403.
    re_path(r"^(api|o)/", handlers.unknown_path),
]

handler400 = "bouncer.core.handlers.bad_request"
handler403 = "bouncer.core.handlers.permission_denied"
handler404 = "bouncer.core.handlers.page_not_found"
handler500 = "bouncer.core.handlers.server_error"
