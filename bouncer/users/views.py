"""HTML pages: the sign-in page of the OAuth2 authorization flow, sign-out,
the admin's login, and the list of the user's sessions and devices.

Thin like the API views: the form is parsed here, the sign-in itself is
``services.session_login`` (the sign-in flow: throttles, lockout, audit rows
and the credential rules of the JSON login). ``/o/authorize/`` sends
signed-out users here (``LOGIN_URL``) with ``?next=``; ``next`` is followed
only when it stays on this site. A user with a second factor goes on to the
code page (bouncer/multifactor/views.py) before ``next``: the ``mfa_token``
stays in the session, never in the page.

``admin_sign_in`` is no page of its own: the admin signs in on this sign-in
page (GET redirects there with ``next=/admin/``), and a form posted to
``/admin/login/`` runs the same flow (method ``admin``), second step included.
The admin site itself refuses a session that is not MFA-verified for a user
who has a factor or must have one (``users/adminsite.py``).
"""

from __future__ import annotations

from dataclasses import asdict
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from bouncer.core.exceptions import InvalidCredentials
from bouncer.core.http import safe_next_url
from bouncer.multifactor import browser, passkeys
from bouncer.multifactor.forms import PasskeySigninForm
from bouncer.multifactor.services import MfaRequired
from bouncer.multifactor.stepup import StepUpRequired, step_up_check
from bouncer.multifactor.webauthn import WebAuthnRejected
from bouncer.social.flows import social_providers_offered
from bouncer.users import selectors, services
from bouncer.users.forms import SignInForm
from bouncer.users.signin import (
    EmailUnverified,
    SignInIncomplete,
    signin_entry_point,
    signin_finish,
    signin_password_confirm,
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
    return _sign_in(request, method="session", default_next=settings.LOGIN_REDIRECT_URL)


def _sign_in_page(request: HttpRequest, *, form, next_url: str, status: int = 200, **extra) -> HttpResponse:
    context = {
        "form": form,
        "next": next_url,
        # One button per configured provider (settings or the admin's Social applications).
        "providers": social_providers_offered(request=request),
        "passkey_login": passkeys.passkey_login_enabled(),
        **extra,
    }
    return render(request, "users/sign_in.html", context, status=status)


def _sign_in(request: HttpRequest, *, method: str, default_next: str) -> HttpResponse:
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    source = request.POST if request.method == "POST" else request.GET
    next_url = safe_next_url(request, source.get("next"), default=default_next)
    if request.method != "POST":
        return _sign_in_page(request, form=SignInForm(), next_url=next_url)
    form = SignInForm(request.POST)
    if form.is_valid():
        try:
            services.session_login(request=request, method=method, **form.cleaned_data)
        except (services.AccountLocked, services.SignInThrottled) as exc:
            return throttled_page(request, exc.retry_after)
        except InvalidCredentials:
            form.add_error(None, SIGN_IN_FAILED)
        except EmailUnverified:
            # The password was right: say what to do (the resend page sends the link again).
            form.add_error(None, EmailUnverified.default_detail)
            return _sign_in_page(request, form=form, next_url=next_url, status=403, email_unverified=True, providers=[])
        except MfaRequired as exc:
            # The code page (or the enrolment page) asks for the step; the mfa_token stays in the session.
            return redirect(browser.pending_begin(request=request, required=exc, next_url=next_url))
        except SignInIncomplete:
            form.add_error(None, SignInIncomplete.default_detail)
        else:
            browser.pending_clear(request)  # a sign-in left waiting for its step before is over
            return redirect(next_url)
    return _sign_in_page(request, form=form, next_url=next_url, status=400)


PASSKEY_REFUSED = "That passkey was not accepted. Try again, or sign in with your password."
PASSKEY_EXPIRED = "That passkey sign-in took too long. Try again."


@signin_entry_point("passkey")
@sensitive_post_parameters("credential", "passkey_token")
@require_POST
@csrf_protect
@never_cache
def sign_in_passkey(request: HttpRequest) -> HttpResponse:
    """``/accounts/login/passkey/``: the "Sign in with a passkey" button's form (its script did the ceremony)."""
    if not passkeys.passkey_login_enabled():
        raise Http404
    next_url = safe_next_url(request, request.POST.get("next"), default=settings.LOGIN_REDIRECT_URL)
    posted = PasskeySigninForm(request.POST)
    credential = browser.credential_parse(request.POST.get("credential")) if posted.is_valid() else None
    error = PASSKEY_REFUSED
    if credential is not None:
        try:
            # The session finisher writes the LOGIN_SUCCEEDED row.
            result = passkeys.passkey_signin(request=request, raw=posted.cleaned_data["passkey_token"], credential=credential, record=False)
            signin_finish(request=request, result=result, method=passkeys.METHOD, issue="session")
        except (services.AccountLocked, services.SignInThrottled) as exc:
            return throttled_page(request, exc.retry_after)
        except EmailUnverified:
            form = SignInForm()
            form.add_error(None, EmailUnverified.default_detail)
            return _sign_in_page(request, form=form, next_url=next_url, status=403, email_unverified=True, providers=[])
        except passkeys.PasskeyTokenInvalid:
            error = PASSKEY_EXPIRED
        except WebAuthnRejected:
            error = PASSKEY_REFUSED
        else:
            browser.pending_clear(request)
            return redirect(next_url)
    return _sign_in_page(request, form=SignInForm(), next_url=next_url, status=400, passkey_error=error)


@require_POST
@csrf_protect
@never_cache
def sign_out(request: HttpRequest) -> HttpResponse:
    """POST only (a link or an image on another site cannot sign anyone out)."""
    if request.user.is_authenticated:
        services.session_logout(request=request)
    messages.info(request, "You are signed out.")
    return redirect(settings.LOGIN_URL)


#: Shown on the sign-in page to a signed-in user the admin sent back (no second factor on this session).
ADMIN_NEEDS_MFA = "The admin needs a sign-in with your second factor: sign in again to open it."


@signin_entry_point("admin")
@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def admin_sign_in(request: HttpRequest) -> HttpResponse:
    """``/admin/login/``: the sign-in page's flow, never a way around its second step.

    Mounted before ``admin.site.urls`` in config/urls.py (Django offers no
    setting for the admin's login view short of replacing the whole site).
    GET redirects to the sign-in page with ``next`` (``/admin/`` by default);
    a form posted here is the sign-in page's POST with method ``admin``: the
    same throttles, lockout, audit rows and, for a user with a factor, the
    code page before the admin.
    """
    if request.method == "POST":
        return _sign_in(request, method="admin", default_next=reverse("admin:index"))
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "POST"])
    next_url = safe_next_url(request, request.GET.get("next"), default=reverse("admin:index"))
    if admin.site.has_permission(request):
        return redirect(next_url)  # as Django's own login view: already in
    if request.user.is_authenticated:
        messages.info(request, ADMIN_NEEDS_MFA if request.user.is_staff else "Sign in with a staff account to open the admin.")
    return redirect(f"{reverse('login')}?{urlencode({'next': next_url})}")


@signin_entry_point("admin_password_change")
@sensitive_post_parameters()
@csrf_protect
@never_cache
def admin_password_change(request: HttpRequest) -> HttpResponse:
    """``/admin/password_change/``: the admin's page, its old password checked by the flow first.

    Django's form checks the old password with ``check_password`` directly,
    so nothing would count a wrong guess; here it counts toward the
    per-account throttle and the lockout like any sign-in, and a refusal
    answers the 429 page before the admin's form runs. A user with a second
    factor must have stepped up lately with this session (``step_up_refused``).
    """
    user = request.user
    if user.is_authenticated and user.is_active and user.is_staff:
        # Asked before the form is shown too, not only when it is sent: nobody types a password for nothing.
        try:
            step_up_check(request=request, user=user)
        except StepUpRequired as refusal:
            return step_up_refused(request, refusal, next_url=request.get_full_path())
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


def step_up_refused(request: HttpRequest, refusal: StepUpRequired, *, next_url: str) -> HttpResponse:
    """The answer of every page action that needs a recent step-up (``stepup.step_up_check``).

    Called by ``session_revoke_others`` and ``admin_password_change`` when a
    user with a second factor has not confirmed it lately with this browser
    session: the Security section's step-up page, then back to ``next_url``
    to press the button again (a refused POST is not replayed).
    """
    return browser.step_up_redirect(request, next_url=next_url)


@require_POST
@csrf_protect
@login_required
@never_cache
def session_revoke_others(request: HttpRequest) -> HttpResponse:
    try:
        revoked = services.session_revoke_others(request=request, user=request.user)
    except StepUpRequired as refusal:
        return step_up_refused(request, refusal, next_url=reverse("sessions"))
    messages.success(request, f"Signed out everywhere else ({revoked} signed out).")
    return redirect("sessions")
