"""The email pages under ``/accounts/``: sign up, forgot password, set a new password, verify, resend.

Thin like the API: each parses its form and calls the one service the API
calls, so the rules (throttles, audit, enumeration-safe answers, the
verification modes) are the same on both. No JavaScript; every form carries
a CSRF token. A link in a mail only ever shows a page on GET (mail scanners
open links): the verification is a button that POSTs.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from bouncer.core.exceptions import DomainError
from bouncer.core.throttling import RegisterThrottle, throttle_wait
from bouncer.users import services as user_services
from bouncer.users.email import services
from bouncer.users.email.forms import EmailForm, SetPasswordForm, SignUpForm
from bouncer.users.email.selectors import email_verification_mode


def _throttled(request: HttpRequest, wait: int) -> HttpResponse:
    from bouncer.users.views import throttled_page

    return throttled_page(request, wait, template="users/email/throttled.html")


def _form_errors(form, exc: DomainError) -> None:
    """A service's field errors (``{"field": [...]}``) or its message, onto the form."""
    detail = exc.detail
    if isinstance(detail, dict) and "detail" not in detail:
        for name, messages in detail.items():
            for message in messages:
                form.add_error(name if name in form.fields else None, message)
    else:
        form.add_error(None, str(detail.get("detail") if isinstance(detail, dict) else detail))


def _only(request: HttpRequest, *methods: str) -> HttpResponse | None:
    allowed = {*methods, "HEAD"} if "GET" in methods else set(methods)
    return None if request.method in allowed else HttpResponseNotAllowed(list(methods))


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def sign_up(request: HttpRequest) -> HttpResponse:
    if (refused := _only(request, "GET", "POST")) is not None:
        return refused
    if request.method != "POST":
        return render(request, "users/email/sign_up.html", {"form": SignUpForm()})
    form = SignUpForm(request.POST)
    if form.is_valid():
        wait = throttle_wait(request, [RegisterThrottle])
        if wait is not None:
            return _throttled(request, wait)
        try:
            user_services.user_register(request=request, **form.cleaned_data)
        except user_services.RegistrationConflict as exc:
            _form_errors(form, exc)
        else:
            mode = email_verification_mode()
            return render(request, "users/email/sign_up_done.html", {"email": form.cleaned_data["email"], "mode": mode})
    return render(request, "users/email/sign_up.html", {"form": form}, status=400)


def _email_form_page(request: HttpRequest, *, send, form_template: str, sent_template: str) -> HttpResponse:
    """A page with one address field: ``send`` it, then the same "sent" page for every address."""
    if (refused := _only(request, "GET", "POST")) is not None:
        return refused
    form = EmailForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            send(request=request, email=form.cleaned_data["email"])
        except services.EmailThrottled as exc:
            return _throttled(request, exc.retry_after)
        return render(request, sent_template, {"email": form.cleaned_data["email"]})
    status = 400 if request.method == "POST" else 200
    return render(request, form_template, {"form": form}, status=status)


@csrf_protect
@never_cache
def password_reset(request: HttpRequest) -> HttpResponse:
    """Forgot password: the same page afterwards for every address."""
    return _email_form_page(
        request, send=services.password_reset_request,
        form_template="users/email/password_reset.html", sent_template="users/email/password_reset_sent.html",
    )


@sensitive_post_parameters("new_password1", "new_password2")
@csrf_protect
@never_cache
def password_reset_confirm(request: HttpRequest, uid: str, token: str) -> HttpResponse:
    """The link of the mail: GET shows the form (the link is checked, not used), POST sets the password."""
    if (refused := _only(request, "GET", "POST")) is not None:
        return refused
    form = SetPasswordForm(request.POST if request.method == "POST" else None)
    try:
        if request.method != "POST":
            services.password_reset_check(request=request, uid=uid, token=token)
            return render(request, "users/email/password_reset_confirm.html", {"form": form})
        if form.is_valid():
            services.password_reset_confirm(request=request, uid=uid, token=token, **form.cleaned_data)
            return render(request, "users/email/password_reset_done.html")
    except services.EmailThrottled as exc:
        return _throttled(request, exc.retry_after)
    except services.ResetLinkInvalid:
        return render(request, "users/email/link_invalid.html", {"what": "reset"}, status=400)
    except services.PasswordResetRejected as exc:
        _form_errors(form, exc)
    return render(request, "users/email/password_reset_confirm.html", {"form": form}, status=400)


@csrf_protect
@never_cache
def email_verify(request: HttpRequest, key: str) -> HttpResponse:
    """GET shows a button (a scanner opening the link confirms nothing); POST confirms."""
    if (refused := _only(request, "GET", "POST")) is not None:
        return refused
    if request.method != "POST":
        return render(request, "users/email/verify.html", {"key": key})
    try:
        address = services.email_verify(request=request, key=key)
    except services.EmailThrottled as exc:
        return _throttled(request, exc.retry_after)
    except (services.VerificationKeyInvalid, services.VerificationKeyExpired, services.VerificationAddressTaken) as exc:
        return render(request, "users/email/link_invalid.html", {"what": "verify", "expired": isinstance(exc, services.VerificationKeyExpired)}, status=400)
    return render(request, "users/email/verify_done.html", {"email": address.email})


@csrf_protect
@never_cache
def email_verify_resend(request: HttpRequest) -> HttpResponse:
    return _email_form_page(
        request, send=services.email_verification_resend,
        form_template="users/email/verify_resend.html", sent_template="users/email/verify_resent.html",
    )
