"""HTML pages of a sign-in's second step: the code page and the enrolment page.

The sign-in page (``users/views.sign_in``) and a social provider's callback
(``social/flows.py``) put a sign-in that owes a step in the session
(``browser.pending_begin``) and send the browser here. Both pages call the
services the API calls (``services.mfa_authenticate``, ``factors.*``) and
complete into a session with its amr, then follow the sign-in's ``next``
(so ``/o/authorize/`` continues to its consent page). A wrong code is a 400
page with the form again; a throttled or locked account the 429 page; an
expired, spent or exhausted ``mfa_token`` goes back to the sign-in page
with a message.
"""

from __future__ import annotations

import re

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from bouncer.multifactor import browser, factors, services, webauthn
from bouncer.multifactor.forms import CodeForm, TotpConfirmForm, WebAuthnRegisterForm
from bouncer.multifactor.services import MfaCodeInvalid, MfaThrottled, MfaTokenInvalid
from bouncer.users.signin import AccountLocked, signin_entry_point
from bouncer.users.views import throttled_page

WRONG_CODE = "That code is not correct. Check the app and try again (each code works once)."
KEY_REFUSED = "The security key's answer was not accepted. Try again, or use another way."
ENROLLED_BUT_EXPIRED = "Your second factor is set up, but this sign-in expired meanwhile. Sign in again, with your new factor."


def _only_get_post(request: HttpRequest) -> HttpResponse | None:
    return None if request.method in ("GET", "HEAD", "POST") else HttpResponseNotAllowed(["GET", "POST"])


def _expired(request: HttpRequest, pending, message: str = MfaTokenInvalid.default_detail) -> HttpResponse:
    restart = browser.pending_restart_url(pending)
    browser.pending_clear(request)
    messages.error(request, message)
    return redirect(restart)


# --- the code page ------------------------------------------------------------------


@signin_entry_point("mfa")
@sensitive_post_parameters("code", "credential")
@csrf_protect
@never_cache
def signin_code(request: HttpRequest) -> HttpResponse:
    """``/accounts/login/mfa/``: a TOTP code, a recovery code, or the security key's answer."""
    refused = _only_get_post(request)
    if refused:
        return refused
    pending = browser.pending_get(request)
    if pending is None:
        return redirect("login")
    if pending.enrol:
        return redirect("mfa-enrol")
    try:
        user = browser.pending_user(pending)
    except MfaTokenInvalid:
        return _expired(request, pending)
    form, error, status = CodeForm(), "", 200
    if request.method == "POST":
        credential = browser.credential_parse(request.POST.get("credential"))
        posted = CodeForm(request.POST)
        code = posted.cleaned_data["code"] if posted.is_valid() else None
        try:
            if credential is None and not code:
                raise MfaCodeInvalid("Enter the code, or use your security key.")
            step = services.mfa_authenticate(request=request, raw=pending.token, code=None if credential else code, credential=credential)
        except MfaTokenInvalid:
            return _expired(request, pending)
        except (MfaThrottled, AccountLocked) as exc:
            return throttled_page(request, exc.retry_after)
        except MfaCodeInvalid as exc:
            error, status = (WRONG_CODE if code else str(exc.detail)), 400
        except webauthn.WebAuthnRejected:
            error, status = KEY_REFUSED, 400
        else:
            return redirect(browser.pending_complete(request=request, pending=pending, step=step))
        if status == 400:
            try:
                browser.pending_user(pending)  # that was the last wrong code this sign-in takes
            except MfaTokenInvalid:
                return _expired(request, pending, "Too many wrong codes for this sign-in. Sign in again.")
    webauthn_options = None
    if "webauthn" in pending.methods:
        try:
            webauthn_options = services.mfa_webauthn_begin(raw=pending.token)
        except MfaTokenInvalid:
            return _expired(request, pending)
    context = {
        "form": form,
        "error": error,
        "username": user.get_username(),
        "webauthn_options": webauthn_options,
        "totp": "totp" in pending.methods,
        "recovery": "recovery_code" in pending.methods,
        "restart_url": browser.pending_restart_url(pending),
    }
    return render(request, "multifactor/signin_code.html", context, status=status)


# --- the enrolment page (BOUNCER_MFA_REQUIRED, a user without a factor) ----------------


@signin_entry_point("mfa")
@sensitive_post_parameters("code", "credential", "setup_id")
@csrf_protect
@never_cache
def signin_enrol(request: HttpRequest) -> HttpResponse:
    """``/accounts/login/mfa/enrol/``: set up a first factor (an app, or a key with ``?with=key``), then signed in."""
    refused = _only_get_post(request)
    if refused:
        return refused
    pending = browser.pending_get(request)
    if pending is None:
        return redirect("login")
    if not pending.enrol:
        return redirect("mfa-signin")
    try:
        user, row = factors.enrolment_user(request_user=None, mfa_token=pending.token)
    except MfaTokenInvalid:
        return _expired(request, pending)
    action = request.POST.get("action") if request.method == "POST" else None
    use_key = request.GET.get("with") == "key" or action == "webauthn"
    error, status, setup_id = "", 200, None
    if action == "totp":
        form = TotpConfirmForm(request.POST)
        if form.is_valid():
            setup_id = form.cleaned_data["setup_id"]
            try:
                _, codes = factors.totp_setup_confirm(
                    request=request, user=user, setup_id=setup_id, code=form.cleaned_data["code"], enrolment=row
                )
            except MfaCodeInvalid:
                error, status = WRONG_CODE, 400
            except factors.SetupExpired:
                error, status, setup_id = "That setup expired. Scan the new code below.", 400, None
            except factors.FactorExists as exc:
                error, status = str(exc.detail), 409
            else:
                return _enrolled(request, pending, codes)
        else:
            error, status = "Enter the 6-digit code the app shows.", 400
    elif action == "webauthn":
        form = WebAuthnRegisterForm(request.POST)
        credential = browser.credential_parse(request.POST.get("credential")) if form.is_valid() else None
        if credential is None:
            error, status = "Give the key a name, then use the button (the page needs JavaScript for this).", 400
        else:
            try:
                _, codes = factors.webauthn_register_complete(
                    request=request, user=user, registration_id=form.cleaned_data["registration_id"], credential=credential,
                    name=form.cleaned_data["name"], enrolment=row,
                )
            except (webauthn.WebAuthnRejected, factors.SetupExpired) as exc:
                error, status = str(exc.detail), 400
            else:
                return _enrolled(request, pending, codes)
    context = {"username": user.get_username(), "error": error, "use_key": use_key, "restart_url": browser.pending_restart_url(pending)}
    if use_key:
        context.update(_key_registration(user=user, name=request.POST.get("name", "")))
    else:
        context.update(totp_setup_context(user=user, setup_id=setup_id))
    return render(request, "multifactor/signin_enrol.html", context, status=status)


def totp_setup_context(*, user, setup_id: str | None) -> dict:
    """The setup still waiting for its code (after a wrong one: the same QR code), or a new one."""
    shown = browser.totp_setup_shown(user=user, setup_id=setup_id) if setup_id else None
    if shown is None:
        setup_id, shown = factors.totp_setup_begin(user=user)
    # Inline in HTML: the SVG element without its XML declaration.
    svg = re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", shown["qr_svg"])
    return {"setup": {**shown, "qr_svg": svg}, "totp_form": TotpConfirmForm(initial={"setup_id": setup_id})}


def _key_registration(*, user, name: str = "", passwordless: bool = False) -> dict:
    registration_id, options = factors.webauthn_register_begin(user=user, passwordless=passwordless)
    form = WebAuthnRegisterForm(initial={"registration_id": registration_id, "name": name[:64] or ("Passkey" if passwordless else "Security key")})
    return {"key_form": form, "key_options": options}


def _enrolled(request: HttpRequest, pending, codes) -> HttpResponse:
    """A first factor is set up with this sign-in's mfa_token: complete it, then show the recovery codes once."""
    try:
        step = services.mfa_authenticate(request=request, raw=pending.token)
    except (MfaTokenInvalid, services.MfaEnrolmentIncomplete):
        return _expired(request, pending, ENROLLED_BUT_EXPIRED)
    except AccountLocked as exc:
        return throttled_page(request, exc.retry_after)
    next_url = browser.pending_complete(request=request, pending=pending, step=step)
    context = {
        "codes": codes,
        "heading": "Your second factor is set up",
        "intro": "You are signed in." + (" Save your recovery codes before you continue." if codes else ""),
        "continue_url": next_url,
    }
    return render(request, "multifactor/recovery_codes.html", context)
