"""The Security section of the account pages (``/accounts/security/``) and its step-up page.

List the user's factors; set up an authenticator app (QR code, the secret,
confirmed by a first code); add, rename and remove passkeys and security keys;
recovery codes shown once, after the first factor and after a regeneration.
Removing a factor and new recovery codes need a recent step-up of this
session (``stepup.step_up_check``): the page sends the user to the step-up
page and back. Every write is a service of ``factors.py`` or ``stepup.py``,
the ones the management API calls.
"""

from __future__ import annotations

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from bouncer.core.exceptions import DomainError
from bouncer.core.http import safe_next_url
from bouncer.multifactor import browser, factors, recovery, selectors, stepup, webauthn
from bouncer.multifactor.forms import CodeForm, FactorRenameForm, TotpConfirmForm, WebAuthnRegisterForm
from bouncer.multifactor.services import MfaCodeInvalid, MfaThrottled
from bouncer.multifactor.views import WRONG_CODE, totp_setup_context
from bouncer.users.signin import AccountLocked
from bouncer.users.views import throttled_page


def _factors(user) -> dict:
    """The user's factors as the page shows them."""
    found = {"totp": None, "keys": [], "recovery": None}
    for factor in selectors.factor_list_for_user(user=user):
        if factor.type == Authenticator.Type.TOTP:
            found["totp"] = factor
        elif factor.type == Authenticator.Type.WEBAUTHN:
            found["keys"].append({
                "id": factor.pk, "name": webauthn.webauthn_name(factor), "passkey": webauthn.webauthn_is_passkey(factor),
                "created_at": factor.created_at, "last_used_at": factor.last_used_at,
                "rename_form": FactorRenameForm(initial={"name": webauthn.webauthn_name(factor)}, auto_id=f"id_key{factor.pk}_%s"),
            })
        elif factor.type == Authenticator.Type.RECOVERY_CODES:
            found["recovery"] = {"left": recovery.recovery_codes_left(factor), "total": factor.data.get("total", 0)}
    return found


def _security_page(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    user = request.user
    context = {
        **_factors(user),
        "error": error,
        "mfa_required": selectors.mfa_required_for(user=user),
        "passkey_login": settings.BOUNCER_MFA["PASSKEY_LOGIN"],
    }
    return render(request, "multifactor/security.html", context, status=status)


def _codes_page(request: HttpRequest, *, codes, heading: str, intro: str = "") -> HttpResponse:
    return render(
        request, "multifactor/recovery_codes.html", {"codes": codes, "heading": heading, "intro": intro, "continue_url": reverse("security")}
    )


def _added(request: HttpRequest, *, codes, what: str) -> HttpResponse:
    stepup.step_up_grant(request=request, user=request.user)
    if codes:
        return _codes_page(request, codes=codes, heading=f"{what} is set up", intro="Sign-ins now ask for your second factor.")
    messages.success(request, f"{what} is set up.")
    return redirect("security")


@login_required
@never_cache
def security_page(request: HttpRequest) -> HttpResponse:
    """``/accounts/security/``: my factors, with a button for each thing that can be done to them."""
    return _security_page(request)


@login_required
@sensitive_post_parameters("code", "setup_id")
@csrf_protect
@never_cache
def totp_setup(request: HttpRequest) -> HttpResponse:
    """``/accounts/security/totp/``: the QR code and secret (GET), confirmed by a first code (POST)."""
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    user = request.user
    if request.method != "POST" and not stepup.step_up_recent_or_needless(request=request, user=user):
        return browser.step_up_redirect(request, next_url=request.get_full_path())
    error, status, setup_id = "", 200, None
    if request.method == "POST":
        form = TotpConfirmForm(request.POST)
        if form.is_valid():
            setup_id = form.cleaned_data["setup_id"]
            try:
                _, codes = factors.totp_setup_confirm(request=request, user=user, setup_id=setup_id, code=form.cleaned_data["code"])
            except MfaCodeInvalid:
                error, status = WRONG_CODE, 400
            except factors.SetupExpired:
                error, status, setup_id = "That setup expired. Scan the new code below.", 400, None
            except factors.FactorExists as exc:
                return _security_page(request, error=str(exc.detail), status=409)
            else:
                return _added(request, codes=codes, what="The authenticator app")
        else:
            error, status = "Enter the 6-digit code the app shows.", 400
    try:
        context = totp_setup_context(user=user, setup_id=setup_id)
    except factors.FactorExists as exc:
        return _security_page(request, error=str(exc.detail), status=409)
    return render(request, "multifactor/security_totp.html", {**context, "error": error}, status=status)


@login_required
@sensitive_post_parameters("credential")
@csrf_protect
@never_cache
def key_add(request: HttpRequest) -> HttpResponse:
    """``/accounts/security/keys/add/`` (``?kind=passkey`` for a passkey): name it, then the browser's dialog."""
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    user = request.user
    if request.method != "POST" and not stepup.step_up_recent_or_needless(request=request, user=user):
        # Adding a key to an account that has a factor: prove one first (a stolen session cannot plant a passkey).
        return browser.step_up_redirect(request, next_url=request.get_full_path())
    passkey = (request.POST if request.method == "POST" else request.GET).get("kind") == "passkey" and settings.BOUNCER_MFA["PASSKEY_LOGIN"]
    error, status = "", 200
    if request.method == "POST":
        form = WebAuthnRegisterForm(request.POST)
        credential = browser.credential_parse(request.POST.get("credential")) if form.is_valid() else None
        if credential is None:
            error, status = "Give it a name, then use the button (the page needs JavaScript for this).", 400
        else:
            try:
                factor, codes = factors.webauthn_register_complete(
                    request=request, user=user, registration_id=form.cleaned_data["registration_id"], credential=credential,
                    name=form.cleaned_data["name"],
                )
            except (webauthn.WebAuthnRejected, factors.SetupExpired) as exc:
                error, status = str(exc.detail), 400
            else:
                # What the authenticator made (a discoverable credential is a passkey), not what was asked for.
                return _added(request, codes=codes, what="The passkey" if webauthn.webauthn_is_passkey(factor) else "The security key")
    registration_id, options = factors.webauthn_register_begin(user=user, passwordless=passkey)
    name = request.POST.get("name", "")[: webauthn.NAME_MAX] if request.method == "POST" else ""
    form = WebAuthnRegisterForm(initial={"registration_id": registration_id, "name": name or ("Passkey" if passkey else "Security key")})
    context = {"form": form, "options": options, "passkey": passkey, "error": error}
    return render(request, "multifactor/security_key_add.html", context, status=status)


@require_POST
@login_required
@csrf_protect
@never_cache
def factor_rename(request: HttpRequest, factor_id: int) -> HttpResponse:
    form = FactorRenameForm(request.POST)
    if not form.is_valid() or not form.cleaned_data["name"].strip():
        return _security_page(request, error="Give the key a name.", status=400)
    try:
        factors.factor_rename(user=request.user, factor_id=factor_id, name=form.cleaned_data["name"])
    except factors.FactorNotFound:
        raise Http404 from None
    except DomainError as exc:
        return _security_page(request, error=str(exc.detail), status=exc.status_code)
    messages.success(request, "Renamed.")
    return redirect("security")


@require_POST
@login_required
@csrf_protect
@never_cache
def factor_remove(request: HttpRequest, factor_id: int) -> HttpResponse:
    """Needs a recent step-up; the last factor of a user who must have one stays."""
    user = request.user
    try:
        stepup.step_up_check(request=request, user=user)
        factors.factor_remove(request=request, user=user, factor_id=factor_id)
    except stepup.StepUpRequired:
        return browser.step_up_redirect(request, next_url=reverse("security"))
    except factors.FactorNotFound:
        raise Http404 from None
    except factors.LastFactorRequired as exc:
        return _security_page(request, error=str(exc.detail), status=exc.status_code)
    messages.success(request, "Removed: it can no longer sign in to this account.")
    return redirect("security")


@require_POST
@login_required
@csrf_protect
@never_cache
def recovery_codes_regenerate(request: HttpRequest) -> HttpResponse:
    """New recovery codes (the old ones stop working), shown once; needs a recent step-up."""
    user = request.user
    try:
        stepup.step_up_check(request=request, user=user)
        codes = factors.recovery_codes_regenerate(request=request, user=user)
    except stepup.StepUpRequired:
        return browser.step_up_redirect(request, next_url=reverse("security"))
    except DomainError as exc:
        return _security_page(request, error=str(exc.detail), status=exc.status_code)
    return _codes_page(request, codes=codes, heading="Your new recovery codes", intro="The old codes no longer work.")


@login_required
@sensitive_post_parameters("code", "credential")
@csrf_protect
@never_cache
def step_up_page(request: HttpRequest) -> HttpResponse:
    """``/accounts/security/verify/?next=``: prove a factor again (a code or a key), then back to ``next``."""
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    user = request.user
    source = request.POST if request.method == "POST" else request.GET
    next_url = safe_next_url(request, source.get("next"), default=reverse("security"))
    if not user.mfa_enabled:
        return redirect(next_url)  # nothing to step up with: the action keeps its own checks
    error, status = "", 200
    if request.method == "POST":
        credential = browser.credential_parse(request.POST.get("credential"))
        posted = CodeForm(request.POST)
        code = posted.cleaned_data["code"] if posted.is_valid() else None
        try:
            if credential is not None:
                stepup.step_up(request=request, user=user, credential=credential, step_up_id=request.POST.get("step_up_id", ""))
            elif code:
                stepup.step_up(request=request, user=user, code=code)
            else:
                raise MfaCodeInvalid("Enter the code, or use your security key.")
        except (MfaThrottled, AccountLocked) as exc:
            return throttled_page(request, exc.retry_after)
        except MfaCodeInvalid as exc:
            error, status = (WRONG_CODE if code else str(exc.detail)), 400
        except webauthn.WebAuthnRejected:
            error, status = "The security key's answer was not accepted. Try again.", 400
        except stepup.StepUpExpired:
            error, status = "That took too long. Try again.", 400
        except (stepup.StepUpUnavailable, stepup.StepUpNoFactor) as exc:
            error, status = str(exc.detail), 400
        else:
            messages.success(request, "Confirmed. Now do what you came to do.")
            return redirect(next_url)
    methods = selectors.mfa_methods(user=user)
    step_up_id, options = stepup.step_up_webauthn_begin(user=user) if "webauthn" in methods else (None, None)
    context = {
        "form": CodeForm(), "error": error, "next": next_url, "step_up_id": step_up_id, "webauthn_options": options,
        "totp": "totp" in methods, "recovery": "recovery_code" in methods,
    }
    return render(request, "multifactor/step_up.html", context, status=status)
