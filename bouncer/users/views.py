"""HTML pages: the sign-in page of the OAuth2 authorization flow, sign-out, and
the list of the user's sessions and devices.

Thin like the API views: the form is parsed here, the sign-in itself is
``services.session_login`` (the lockout, the audit rows and the credential
rules of the JSON login). ``/o/authorize/`` sends signed-out users here
(``LOGIN_URL``) with ``?next=``; ``next`` is followed only when it stays on
this site.
"""

from __future__ import annotations

from dataclasses import asdict

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from bouncer.core.exceptions import InvalidCredentials
from bouncer.core.http import safe_next_url
from bouncer.core.throttling import AccountLoginThrottle, LoginThrottle, throttle_wait
from bouncer.users import selectors, services
from bouncer.users.forms import SignInForm

#: One message for an unknown user, a wrong password and an inactive account.
SIGN_IN_FAILED = "The username or password is not correct."


def _throttled(request: HttpRequest, wait: int) -> HttpResponse:
    response = render(request, "users/throttled.html", {"wait": wait}, status=429)
    response["Retry-After"] = str(wait)
    add_never_cache_headers(response)
    return response


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def sign_in(request: HttpRequest) -> HttpResponse:
    """GET shows the form; POST signs in and follows ``next`` (a failure is a 400 page)."""
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    source = request.POST if request.method == "POST" else request.GET
    next_url = safe_next_url(request, source.get("next"), default=settings.LOGIN_REDIRECT_URL)
    if request.method != "POST":
        return render(request, "users/sign_in.html", {"form": SignInForm(), "next": next_url})
    wait = throttle_wait(request, [LoginThrottle, AccountLoginThrottle])
    if wait:
        return _throttled(request, wait)
    form = SignInForm(request.POST)
    if form.is_valid():
        try:
            services.session_login(request=request, **form.cleaned_data)
        except services.AccountLocked as exc:
            return _throttled(request, exc.retry_after)
        except InvalidCredentials:
            form.add_error(None, SIGN_IN_FAILED)
        else:
            return redirect(next_url)
    return render(request, "users/sign_in.html", {"form": form, "next": next_url}, status=400)


@require_POST
@csrf_protect
@never_cache
def sign_out(request: HttpRequest) -> HttpResponse:
    """POST only (a link or an image on another site cannot sign anyone out)."""
    if request.user.is_authenticated:
        services.session_logout(request=request)
    messages.info(request, "You are signed out.")
    return redirect(settings.LOGIN_URL)


#: How each credential kind is named on the page.
KIND_LABELS = {"session": "Browser session", "token": "App token", "jwt": "JWT sign-in", "oauth2": "Authorized application"}


@login_required
@never_cache
def sessions_page(request: HttpRequest) -> HttpResponse:
    """Every live credential of the signed-in user, each with a sign-out button (no JavaScript)."""
    listed = [
        {**asdict(credential), "id": credential.id, "kind_label": KIND_LABELS.get(credential.kind, credential.kind)}
        for credential in selectors.session_list_for_user(user=request.user, request=request)
    ]
    return render(request, "users/sessions.html", {"credentials": listed})


@require_POST
@csrf_protect
@login_required
@never_cache
def session_revoke(request: HttpRequest, credential_id: str) -> HttpResponse:
    try:
        services.session_revoke(request=request, user=request.user, credential_id=credential_id)
    except services.CredentialNotFound:
        raise Http404 from None
    if not request.user.is_authenticated or request.session.session_key is None:
        return redirect(settings.LOGIN_URL)  # that was this browser's own session
    messages.success(request, "Signed out.")
    return redirect("sessions")


@require_POST
@csrf_protect
@login_required
@never_cache
def session_revoke_others(request: HttpRequest) -> HttpResponse:
    revoked = services.session_revoke_others(request=request, user=request.user)
    messages.success(request, f"Signed out everywhere else ({revoked} signed out).")
    return redirect("sessions")
