"""The only glue to allauth's socialaccount extension points.

allauth runs the provider's protocol (redirect, state, PKCE, code exchange,
the id_token's checks) and looks the identity up; ``pre_social_login`` is
where Bouncer takes over, for every browser sign-in and link: the browser
flow (``flows.py``) decides, signs in or links, and answers with a redirect
(``ImmediateHttpResponse``), so allauth's own account logic (its signup form,
its email-based connect, its login) never runs.
"""

from __future__ import annotations

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter


class BouncerSocialAccountAdapter(DefaultSocialAccountAdapter):
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
