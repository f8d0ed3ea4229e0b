"""HTML pages: the sign-in page of the OAuth2 authorization flow, sign-out,
the admin's login, and the list of the user's sessions and devices.

Thin like the API views: the form is parsed here, the sign-in itself is
``services.session_login`` (the sign-in flow: throttles, lockout, audit rows
and the credential rules of the JSON login). ``/o/authorize/`` sends
signed-out users here (``LOGIN_URL``) with ``?next=``; ``next`` is followed
only when it stays on this site.

``admin_sign_in`` is Django's own admin login page run inside a sign-in
attempt: its form's ``authenticate()`` goes through the flow's guard like
every other, and a throttled or locked attempt answers the 429 page.
"""

from __future__ import annotations

from dataclasses import asdict

from django.conf import settings
from django.contrib import admin, messages
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
from bouncer.multifactor.services import MfaRequired
from bouncer.social.flows import social_providers_offered
from bouncer.users import selectors, services
from bouncer.users.forms import SignInForm
from bouncer.users.signin import (
    EmailUnverified,
    SignInIncomplete,
    signin_attempt,
    signin_entry_point,
    signin_password_confirm,
    signin_succeeded_record,
)

#: One message for an unknown user, a wrong password and an inactive account.
SIGN_IN_FAILED = "The username or password is not correct."


def throttled_page(request: HttpRequest, wait: int, *, template: str = "users/throttled.html") -> HttpResponse:
    """The 429 page of every HTML page (sign-in, social callbacks, email pages), with a truthful ``Retry-After``."""
    response = render(request, template, {"wait": wait}, status=429)
    response["Retry-After"] = str(wait)
    add_never_cache_headers(response)
    return response


@signin_entry_point("session")
@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def sign_in(request: HttpRequest) -> HttpResponse:
    """GET shows the form; POST signs in and follows ``next`` (a failure is a 400 page)."""
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    source = request.POST if request.method == "POST" else request.GET
    next_url = safe_next_url(request, source.get("next"), default=settings.LOGIN_REDIRECT_URL)
    # One button per configured provider (settings or the admin's Social applications).
    providers = social_providers_offered(request=request)
    if request.method != "POST":
        return render(request, "users/sign_in.html", {"form": SignInForm(), "next": next_url, "providers": providers})
    form = SignInForm(request.POST)
    if form.is_valid():
        try:
            services.session_login(request=request, **form.cleaned_data)
        except (services.AccountLocked, services.SignInThrottled) as exc:
            return throttled_page(request, exc.retry_after)
        except InvalidCredentials:
            form.add_error(None, SIGN_IN_FAILED)
        except EmailUnverified:
            # The password was right: say what to do (the resend page sends the link again).
            form.add_error(None, EmailUnverified.default_detail)
            return render(request, "users/sign_in.html", {"form": form, "next": next_url, "email_unverified": True}, status=403)
        except (SignInIncomplete, MfaRequired):
            # No page for a second step yet (the MFA issue adds it): refuse, never sign in.
            form.add_error(None, SignInIncomplete.default_detail)
        else:
            return redirect(next_url)
    return render(request, "users/sign_in.html", {"form": form, "next": next_url, "providers": providers}, status=400)


@require_POST
@csrf_protect
@never_cache
def sign_out(request: HttpRequest) -> HttpResponse:
    """POST only (a link or an image on another site cannot sign anyone out)."""
    if request.user.is_authenticated:
        services.session_logout(request=request)
    messages.info(request, "You are signed out.")
    return redirect(settings.LOGIN_URL)


@signin_entry_point("admin")
def admin_sign_in(request: HttpRequest) -> HttpResponse:
    """``/admin/login/``: the admin's own page and form, through the sign-in flow.

    Mounted before ``admin.site.urls`` in config/urls.py (Django offers no
    setting for the admin's login view short of replacing the whole site).
    A failure shows the admin's normal error page; a refusal the 429 page;
    a success is audited like every other sign-in.
    """
    key_before = request.session.session_key
    with signin_attempt(method="admin", address_scope="login") as attempt:
        response = admin.site.login(request)
    if isinstance(attempt.refusal, EmailUnverified):
        # The admin's form already shows its generic error (no user came back).
        response.status_code = 403
        return response
    if attempt.refusal is not None:
        return throttled_page(request, attempt.refusal.retry_after)
    if request.method == "POST" and attempt.result is not None and request.user.is_authenticated:
        if key_before and request.session.session_key == key_before:
            # Django's login() kept the id (same user signing in again): a new one at every sign-in.
            request.session.cycle_key()
        signin_succeeded_record(request=request, user=request.user, method="admin")
    return response


@signin_entry_point("admin_password_change")
@sensitive_post_parameters()
@csrf_protect
@never_cache
def admin_password_change(request: HttpRequest) -> HttpResponse:
    """``/admin/password_change/``: the admin's page, its old password checked by the flow first.

    Django's form checks the old password with ``check_password`` directly,
    so nothing would count a wrong guess; here it counts toward the
    per-account throttle and the lockout like any sign-in, and a refusal
    answers the 429 page before the admin's form runs.
    """
    user = request.user
    if request.method == "POST" and user.is_active and user.is_staff:
        try:
            signin_password_confirm(
                request=request, user=user, password=str(request.POST.get("old_password", "")), method="admin_password_change"
            )
        except (services.AccountLocked, services.SignInThrottled) as exc:
            return throttled_page(request, exc.retry_after)
    return admin.site.admin_view(admin.site.password_change, cacheable=True)(request)


#: How each credential kind is named on the page.
KIND_LABELS = {"session": "Browser session", "token": "App token", "jwt": "JWT sign-in", "oauth2": "Authorized application"}


#: How each amr value (bouncer/core/assurance.py) reads on the page.
AMR_LABELS = {"pwd": "password", "fed": "social sign-in", "otp": "authenticator code", "hwk": "security key", "swk": "passkey"}


def _amr_label(amr) -> str:
    """``password + authenticator code``: the factors a sign-in proved, in words (``mfa`` is the badge)."""
    return " + ".join(AMR_LABELS[value] for value in amr if value in AMR_LABELS)


@login_required
@never_cache
def sessions_page(request: HttpRequest) -> HttpResponse:
    """Every live credential of the signed-in user, each with a sign-out button (no JavaScript)."""
    listed = [
        {
            **asdict(credential), "id": credential.id, "mfa": credential.mfa,
            "kind_label": KIND_LABELS.get(credential.kind, credential.kind), "amr_label": _amr_label(credential.amr),
        }
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
