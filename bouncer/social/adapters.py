"""The only glue to allauth's socialaccount extension points.

allauth runs the provider's protocol (redirect, state, PKCE, code exchange,
the id_token's checks) and looks the identity up; ``pre_social_login`` is
where Bouncer takes over, for every browser sign-in and link: the browser
flow (``flows.py``) decides, signs in or links, and answers with a redirect
(``ImmediateHttpResponse``), so allauth's own account logic (its signup form,
its email-based connect, its login) never runs.
"""

from __future__ import annotations

import logging

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.providers import registry

logger = logging.getLogger("bouncer.social")


def social_app_problem(app) -> str | None:
    """Why Bouncer will not use a Social application (settings or admin), or None.

    - its provider is not one allauth knows (nothing could speak to it);
    - an OpenID Connect app needs an id, and not a built-in provider's
      (``github``, ``google``, ...): its identities are stored under that id,
      so an issuer with id ``github`` could assert any GitHub user's uid and
      sign in as them;
    - another provider's app keeps its own name as id (an OpenID Connect
      id like ``acme`` on a GitHub app would route ``/accounts/oidc/acme/``
      to GitHub).
    """
    if registry.get_class(app.provider) is None:
        return f"unknown provider {app.provider!r}"
    if app.provider == "openid_connect":
        if not app.provider_id:
            return "an OpenID Connect application needs a provider id"
        if registry.get_class(app.provider_id) is not None:
            return f"the provider id {app.provider_id!r} is a built-in provider's"
        return None
    if app.provider_id and app.provider_id != app.provider:
        return f"a {app.provider} application takes no provider id of its own"
    return None


class BouncerSocialAccountAdapter(DefaultSocialAccountAdapter):
    def list_apps(self, request, provider=None, client_id=None):
        """allauth's list without the applications ``social_app_problem`` refuses.

        Every lookup goes through here (the sign-in page's buttons, the
        provider URLs, the API flow), so a refused application is simply not
        there: its URLs answer 404 and it has no button.
        """
        apps = []
        for app in super().list_apps(request, provider=provider, client_id=client_id):
            problem = social_app_problem(app)
            if problem is None:
                apps.append(app)
            else:
                logger.warning("social application %r ignored: %s", app.name or app.client_id, problem)
        return apps

    def pre_social_login(self, request, sociallogin) -> None:
        from bouncer.social import flows

        raise ImmediateHttpResponse(flows.social_browser_complete(request=request, sociallogin=sociallogin))

    def on_authentication_error(self, request, provider, error=None, exception=None, extra_context=None) -> None:
        from bouncer.social import flows

        raise ImmediateHttpResponse(
            flows.social_browser_error(
                request=request, provider=provider, error=error, exception=exception, extra_context=extra_context
            )
        )

    def populate_user(self, request, sociallogin, data):
        """Names and email only; never a flag (allauth's default sets no more, this keeps it so)."""
        user = super().populate_user(request, sociallogin, data)
        user.is_staff = user.is_superuser = False
        return user
