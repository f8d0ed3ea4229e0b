"""Social pages under ``/accounts/`` (connected accounts), and allauth's provider URLs."""

from functools import wraps

from allauth.socialaccount.models import SocialApp
from allauth.urls import build_provider_urlpatterns
from django.http import Http404
from django.urls import URLPattern, URLResolver


def _configured_only(view):
    """A provider without an app (settings or admin) is not offered: 404, not allauth's 500."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except SocialApp.DoesNotExist:
            raise Http404("No such sign-in provider.") from None

    return wrapped


def _wrap(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _wrap(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            pattern.callback = _configured_only(pattern.callback)
    return patterns


# Only the provider URLs (/accounts/<provider>/login/ and .../callback/; an
# OpenID Connect app at /accounts/oidc/<id>/login/): allauth's account pages
# are never mounted, so none can shadow Bouncer's own.
urlpatterns: list = _wrap(build_provider_urlpatterns())
