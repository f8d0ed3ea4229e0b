"""Social pages under ``/accounts/`` (connected accounts), and allauth's provider URLs."""

from __future__ import annotations

import logging
from functools import wraps

from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.models import SocialApp
from allauth.urls import build_provider_urlpatterns
from django.core.exceptions import MultipleObjectsReturned
from django.http import Http404
from django.urls import URLPattern, URLResolver, path

from bouncer.social import flows, views
from bouncer.users.signin import SignInThrottled, signin_throttle_address

logger = logging.getLogger("bouncer.social")

#: Longer than any provider's code or state (Google's codes are ~75
#: characters, allauth's state 12): a longer one is refused before the
#: provider is asked.
MAX_CALLBACK_PARAM = 2048


def _configured_only(view, *, openid_connect: bool = False):
    """A provider without an app (settings or admin) is not offered: 404, not allauth's 500.

    ``/accounts/oidc/<id>/`` serves OpenID Connect applications only (allauth
    would look ``<id>`` up as any provider: ``/accounts/oidc/github/`` would be GitHub).
    """

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if openid_connect:
            apps = get_social_adapter(request).list_apps(request, provider=kwargs.get("provider_id", ""))
            if not any(app.provider == "openid_connect" for app in apps):
                raise Http404("No such sign-in provider.")
        try:
            return view(request, *args, **kwargs)
        except SocialApp.DoesNotExist:
            raise Http404("No such sign-in provider.") from None
        except MultipleObjectsReturned:
            # Two apps for one provider (the environment and the admin, say):
            # a configuration mistake the operator must fix; the person gets a page.
            logger.error("more than one social application for %s: remove all but one", request.path)
            return flows.social_unavailable(request)

    return wrapped


def _callback(view):
    """The provider's redirect back: counted on the ``social`` per-address throttle first.

    Counted before allauth sends the code to the provider, so nobody can
    make Bouncer call a provider as fast as they like; every arrival counts
    (a good one, an error, a replay). A ``code`` or ``state`` longer than
    any provider's is refused before it is sent anywhere. A provider answer
    allauth cannot read (a field missing, a list instead of an object) is
    a page saying so, never a 500.
    """

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            signin_throttle_address(request=request, scope="social")
        except SignInThrottled as exc:
            return flows.throttled_page(request, exc.retry_after)
        if any(len(request.GET.get(name, "")) > MAX_CALLBACK_PARAM for name in ("code", "state")):
            return flows.social_callback_refused(request, reason="callback_oversized")
        try:
            return view(request, *args, **kwargs)
        except (KeyError, TypeError, ValueError, AttributeError):
            logger.exception("a provider's answer could not be read: %s", request.path)
            return flows.social_callback_refused(request, reason="provider_unreadable")

    return wrapped


def _guard(patterns) -> list:
    """allauth's provider URLs, each guarded; without the ``login/token/`` endpoints.

    ``google/login/token/`` (One Tap) and ``facebook/login/token/`` (the JS
    SDK) sign in from a credential a script posts, outside the state and
    redirect checks of the browser flow; Bouncer's pages have no script, and
    SPAs and apps post the same credentials to the API flow (``/api/auth/<provider>/``).
    """
    kept = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            pattern.url_patterns[:] = _guard(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            name = pattern.name or ""
            if name.endswith("_login_by_token"):
                continue
            if not getattr(pattern.callback, "bouncer_guarded", False):  # allauth's lists are module-level: wrap once
                callback = _configured_only(pattern.callback, openid_connect=name.startswith("openid_connect_"))
                pattern.callback = _callback(callback) if name.endswith("_callback") else callback
                pattern.callback.bouncer_guarded = True
        kept.append(pattern)
    return kept


# Bouncer's own pages first; then only the provider URLs
# (/accounts/<provider>/login/ and .../callback/; an OpenID Connect app at
# /accounts/oidc/<id>/login/): allauth's account pages are never mounted,
# so none can shadow Bouncer's own.
urlpatterns: list = [
    path("connections/", views.connections_page, name="social-connections"),
    path("connections/<int:account_id>/unlink/", views.connection_unlink, name="social-unlink"),
    *_guard(build_provider_urlpatterns()),
]
