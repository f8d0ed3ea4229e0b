"""The browser flow: what happens when a provider sends the person back to Bouncer.

allauth has checked the state (one use, this browser's session), exchanged
the code with the PKCE verifier and turned the provider's answer into a
``SocialLogin``; ``adapters.py`` hands it here before any of allauth's own
account logic runs. This module decides, in plain functions the adapter
calls (no HTTP parsing of its own):

- ``process=connect`` (the connected-accounts page, signed in): link the
  identity to the signed-in user (``services.social_link``);
- anything else: sign in (``services.social_signin``: the linking rules and
  the sign-in flow's rules), then a session exactly like the password
  sign-in page's: the id always changes, the session records ``amr`` (``fed``),
  then ``next`` when it stays on this site, so an OAuth2 ``/o/authorize/``
  flow continues to its consent page. A user with a second factor (or who
  must enrol one) goes first to the same code page as after a password
  (bouncer/multifactor/views.py), method ``social``.

Every refusal is a page with a message a person can act on, never a 500:
``social_browser_error`` for what went wrong at or on the way back from the
provider (cancelled, denied, state missing or used, unreachable, a broken
answer), ``_refused`` for what Bouncer refused afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.providers.base.constants import AuthError
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.cache import add_never_cache_headers
from requests import RequestException

from bouncer.audit.models import AuditAction
from bouncer.audit.services import audit_record
from bouncer.core import assurance
from bouncer.core.exceptions import DomainError, InvalidCredentials
from bouncer.core.http import safe_next_url
from bouncer.multifactor import browser
from bouncer.multifactor.services import MfaRequired
from bouncer.social import services
from bouncer.users.signin import AccountLocked, SignInIncomplete, SignInThrottled, signin_finish

#: The backend ``session_login`` names, so the session reads its user the same way.
BACKEND = "bouncer.users.backends.CachedModelBackend"

#: allauth's ``process`` for linking from the connected-accounts page.
CONNECT = "connect"

INACTIVE = "This account cannot be signed in to. If you think this is a mistake, contact the site's administrator."
INCOMPLETE = "This account needs another sign-in step, which this page cannot ask for. Nothing was signed in."
NOT_SIGNED_IN = "Your session ended before the provider answered. Sign in, then link the provider again."


def provider_name(provider) -> str:
    """What the person calls the provider (``Google``, or the OpenID Connect app's name)."""
    app = getattr(provider, "app", None)
    return (getattr(app, "name", "") or getattr(provider, "name", "") or "the provider").strip() or "the provider"


def _next_url(request: HttpRequest, state: dict | None) -> str:
    return safe_next_url(request, (state or {}).get("next"), default=settings.LOGIN_REDIRECT_URL)


def _page(request: HttpRequest, *, title: str, detail: str, status: int, retry_url: str, connect: bool = False) -> HttpResponse:
    response = render(
        request, "social/error.html", {"title": title, "detail": detail, "retry_url": retry_url, "connect": connect}, status=status
    )
    add_never_cache_headers(response)
    return response


def _retry_url(request: HttpRequest, *, connect: bool, next_url: str | None) -> str:
    """Where the person starts again: the connected-accounts page, or sign-in carrying ``next``."""
    if connect:
        return reverse("social-connections")
    login_url = reverse("login")
    if next_url and next_url != settings.LOGIN_REDIRECT_URL:
        return f"{login_url}?{urlencode({'next': next_url})}"
    return login_url


def throttled_page(request: HttpRequest, wait: int) -> HttpResponse:
    """The sign-in pages' own 429 page (``Retry-After``)."""
    from bouncer.users.views import throttled_page as page

    return page(request, wait)


def social_browser_complete(*, request: HttpRequest, sociallogin) -> HttpResponse:
    """Sign in (or link, for ``process=connect``) and redirect; a page for every refusal.

    The per-address throttle (``social``) was counted when the callback
    arrived, before the code went to the provider (``page_urls.py``).
    """
    state = sociallogin.state or {}
    if state.get("process") == CONNECT:
        return _connect(request=request, sociallogin=sociallogin)
    next_url = _next_url(request, state)
    try:
        result = services.social_signin(request=request, sociallogin=sociallogin)
        if not result.complete and result.pending_steps[0] in ("mfa", "mfa_enrol"):
            # The second step's challenge, as after a password; the code page asks for it.
            signin_finish(request=request, result=result, method=services.METHOD, issue="session")
        user = result.completed_user()
    except MfaRequired as exc:
        return HttpResponseRedirect(browser.pending_begin(request=request, required=exc, next_url=next_url))
    except (SignInThrottled, AccountLocked) as exc:
        return throttled_page(request, exc.retry_after)
    except SignInIncomplete:
        return _refused(request, detail=INCOMPLETE, status=401, next_url=next_url)
    except InvalidCredentials:
        return _refused(request, detail=INACTIVE, status=403, next_url=next_url)
    except DomainError as exc:
        return _refused(request, detail=str(exc.detail), status=exc.status_code, next_url=next_url)
    # As services.session_login: a new session id at every sign-in, even
    # inside a live session of the same user (login() would keep it then).
    # signin_external wrote the LOGIN_SUCCEEDED row (the session finisher would write a second).
    if SESSION_KEY in request.session:
        request.session.cycle_key()
    login(request, user, backend=BACKEND)
    # login() recorded the least a sign-in proves (users/sessions.py); this one was the provider's.
    request.session[assurance.SESSION_AMR_KEY] = list(assurance.amr_normalize(result.amr))
    browser.pending_clear(request)
    return HttpResponseRedirect(next_url)


def _connect(*, request: HttpRequest, sociallogin) -> HttpResponse:
    if not request.user.is_authenticated:
        return _page(
            request, title="Linking did not complete", detail=NOT_SIGNED_IN, status=401,
            retry_url=reverse("login") + "?next=" + reverse("social-connections"), connect=True,
        )
    try:
        services.social_link(request=request, user=request.user, sociallogin=sociallogin)
    except DomainError as exc:
        return _page(
            request, title="Linking did not complete", detail=str(exc.detail), status=exc.status_code,
            retry_url=reverse("social-connections"), connect=True,
        )
    messages.success(request, f"{provider_name(sociallogin.provider)} is linked: you can sign in with it.")
    return HttpResponseRedirect(reverse("social-connections"))


def _refused(request: HttpRequest, *, detail: str, status: int, next_url: str) -> HttpResponse:
    return _page(
        request, title="Sign-in did not complete", detail=detail, status=status,
        retry_url=_retry_url(request, connect=False, next_url=next_url),
    )


def social_browser_error(*, request: HttpRequest, provider, error=None, exception=None, extra_context=None) -> HttpResponse:
    """Something went wrong at the provider or on the way back: a 400 page, never the provider's own words.

    The provider's ``error_description`` is not shown: anyone can put text
    into a callback URL, and it would read as Bouncer's own message.
    """
    context = extra_context or {}
    state = context.get("state")
    connect = bool(state) and state.get("process") == CONNECT
    next_url = _next_url(request, state) if state else None
    name = provider_name(provider)
    if state is None and "state_id" in context:
        detail = (
            "This sign-in link has expired, was already used, or was started in another browser. "
            f"Nothing was signed in. Start again and continue with {name} from this browser."
        )
    elif error == AuthError.CANCELLED:
        detail = f"You cancelled at {name}. Nothing was signed in or changed."
    elif error == AuthError.DENIED:
        detail = f"{name} refused the sign-in. Nothing was signed in or changed."
    elif isinstance(exception, RequestException):
        detail = f"{name} could not be reached or gave an answer Bouncer could not read. Try again in a moment."
    else:
        detail = f"{name} did not confirm who you are. Nothing was signed in or changed. Try again."
    reason = "state" if state is None and "state_id" in context else str(error or "unknown")
    audit_record(
        action=AuditAction.LOGIN_FAILED, request=request, user=request.user if connect and request.user.is_authenticated else None,
        method=services.METHOD, data={"provider": getattr(provider, "sub_id", ""), "reason": f"provider_{reason}",
              "exception": type(exception).__name__ if exception else ""},
    )
    return _page(
        request,
        title="Linking did not complete" if connect else "Sign-in did not complete",
        detail=detail,
        status=400,
        retry_url=_retry_url(request, connect=connect, next_url=next_url),
        connect=connect,
    )


def social_callback_refused(request: HttpRequest, *, reason: str) -> HttpResponse:
    """A callback Bouncer will not pass on to the provider (oversized) or whose answer it could not read."""
    match = request.resolver_match
    provider = (match.kwargs.get("provider_id") or match.url_name.removesuffix("_callback")) if match else ""
    audit_record(action=AuditAction.LOGIN_FAILED, request=request, method=services.METHOD, data={"provider": provider, "reason": reason})
    return _page(
        request, title="Sign-in did not complete", status=400, retry_url=reverse("login"),
        detail="The answer from the provider could not be read. Nothing was signed in or changed. Try again.",
    )


def social_unavailable(request: HttpRequest) -> HttpResponse:
    """More than one application configured for one provider: the operator's mistake, told as a 400 page."""
    return _page(
        request, title="Sign-in is not available", status=400, retry_url=reverse("login"),
        detail="Signing in with this provider is not set up correctly on this site. Use another way to sign in.",
    )


@dataclass(frozen=True)
class Connection:
    """One linked provider identity, as the connected-accounts page shows it."""

    id: int
    provider: str
    name: str
    label: str
    linked_at: object


@dataclass(frozen=True)
class ProviderButton:
    """One configured provider: its name and the URL its button POSTs to."""

    id: str
    name: str
    login_url: str


def social_providers_offered(*, request: HttpRequest) -> list[ProviderButton]:
    """The configured providers (settings and the admin's Social applications), one button each.

    allauth's ``list_providers`` skips an application whose provider it does
    not know; two applications for one provider get one button (its URL
    then answers the "not set up correctly" page until one is removed).
    """
    buttons: dict[str, ProviderButton] = {}
    for provider in get_social_adapter(request).list_providers(request):
        if provider.sub_id in buttons:
            continue
        try:
            url = provider.get_login_url(request)
        except NoReverseMatch:  # a provider whose URLs are not mounted here
            continue
        buttons[provider.sub_id] = ProviderButton(id=provider.sub_id, name=provider_name(provider), login_url=url)
    return sorted(buttons.values(), key=lambda button: button.name.lower())


def social_connections_for_user(*, request: HttpRequest, user) -> list[Connection]:
    """The user's linked provider identities, oldest first."""
    names = {button.id: button.name for button in social_providers_offered(request=request)}
    connections = []
    for account in SocialAccount.objects.filter(user=user).order_by("date_joined", "pk"):
        data = account.extra_data if isinstance(account.extra_data, dict) else {}
        label = next(
            (str(data[key]) for key in ("email", "login", "preferred_username", "name") if isinstance(data.get(key), str) and data[key]),
            "",
        )
        connections.append(
            Connection(
                id=account.pk, provider=account.provider, name=names.get(account.provider, account.provider),
                label=label[:200], linked_at=account.date_joined,
            )
        )
    return connections
