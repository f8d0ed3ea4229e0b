"""HTML pages: the connected-accounts page (link another provider, unlink one).

Linking starts with a button that POSTs to the provider's login URL with
``process=connect`` (allauth keeps the state and PKCE verifier in the
session); the provider's answer comes back through ``flows.py``. Unlinking
is ``services.social_unlink``, which refuses the last way to sign in.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

from bouncer.social import flows, services


def _render(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    context = {
        "connections": flows.social_connections_for_user(request=request, user=request.user),
        "providers": flows.social_providers_offered(request=request),
        "error": error,
    }
    return render(request, "social/connections.html", context, status=status)


@login_required
@never_cache
def connections_page(request: HttpRequest) -> HttpResponse:
    """My linked providers, a button per configured provider to link, an unlink button per link."""
    return _render(request)


@require_POST
@csrf_protect
@login_required
@never_cache
def connection_unlink(request: HttpRequest, account_id: int) -> HttpResponse:
    try:
        services.social_unlink(request=request, user=request.user, account_id=account_id)
    except services.SocialAccountNotFound:
        raise Http404 from None  # another user's link answers like an unknown one
    except services.SocialLastSignIn as exc:
        return _render(request, error=str(exc.detail), status=exc.status_code)
    messages.success(request, "The provider is unlinked: it can no longer sign in to this account.")
    return redirect("social-connections")
