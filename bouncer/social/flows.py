"""The browser flow: what happens when a provider sends the person back to Bouncer."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from bouncer.core.exceptions import DomainError
from bouncer.social import services


def social_browser_complete(*, request: HttpRequest, sociallogin) -> HttpResponse:
    """Placeholder: sign in or link, then redirect (the social browser work fills this in)."""
    try:
        services.social_signin(request=request, sociallogin=sociallogin)
    except DomainError as exc:
        return render(request, "social/error.html", {"detail": exc.detail}, status=400)
    return HttpResponseRedirect("/")


def social_browser_error(*, request: HttpRequest, provider, error=None, exception=None) -> HttpResponse:
    return render(request, "social/error.html", {"detail": "Sign-in with the provider did not complete."}, status=400)
