"""What the HTML pages keep between requests: a sign-in waiting for its second step, in the browser's session.

A page sign-in (the sign-in page, a social provider's callback) that owes a
second step gets the same ``mfa_token`` as an API client, but the browser
never sees it: it stays in the (still anonymous) session, server-side, with
where to go afterwards. The code page (or the enrolment page, for an
``mfa_enrol`` sign-in) answers it; completing issues the ``session`` the
sign-in asked for and follows ``next``. Nobody is signed in meanwhile.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from bouncer.multifactor import totp
from bouncer.multifactor.models import ChallengePurpose
from bouncer.multifactor.serializers import CREDENTIAL_MAX_BYTES
from bouncer.multifactor.services import MfaEnrolmentRequired, MfaRequired, MfaTokenInvalid, SecondStep, challenge_find
from bouncer.users.signin import signin_issue

#: The session key of the pending sign-in.
PENDING_KEY = "bouncer_mfa_pending"


@dataclass(frozen=True)
class PendingSignin:
    token: str
    next: str
    enrol: bool = False
    methods: list[str] = field(default_factory=list)


def pending_begin(*, request: HttpRequest, required: MfaRequired, next_url: str) -> str:
    """Keep the ``mfa_token`` of ``required`` in the session; the URL of the page that asks for the step."""
    detail = required.detail
    pending = PendingSignin(
        token=str(detail["mfa_token"]),
        next=next_url,
        enrol=isinstance(required, MfaEnrolmentRequired),
        methods=[str(method) for method in detail.get("methods", [])],
    )
    request.session[PENDING_KEY] = asdict(pending)
    return reverse("mfa-enrol" if pending.enrol else "mfa-signin")


def pending_get(request: HttpRequest) -> PendingSignin | None:
    data = request.session.get(PENDING_KEY)
    if not isinstance(data, dict):
        return None
    try:
        return PendingSignin(**data)
    except TypeError:
        return None


def pending_user(pending: PendingSignin):
    """The user of a pending sign-in whose ``mfa_token`` is still good; ``MfaTokenInvalid`` otherwise."""
    purpose = ChallengePurpose.ENROL if pending.enrol else ChallengePurpose.SIGNIN
    return challenge_find(raw=pending.token, purposes=(purpose,)).user


def pending_clear(request: HttpRequest) -> None:
    request.session.pop(PENDING_KEY, None)


def pending_restart_url(pending: PendingSignin | None) -> str:
    """The sign-in page again, still carrying where the sign-in was going."""
    url = reverse("login")
    if pending is not None and pending.next and pending.next != settings.LOGIN_REDIRECT_URL:
        url += "?" + urlencode({"next": pending.next})
    return url


def pending_complete(*, request: HttpRequest, pending: PendingSignin, step: SecondStep) -> str:
    """The second step is done: the session (through the ``session`` finisher, with its amr); where to go now."""
    pending_clear(request)
    signin_issue(request=request, user=step.user, issue=step.issue, options=step.options, amr=step.amr, method=step.method)
    return pending.next


def credential_parse(raw: str | None) -> dict | None:
    """A WebAuthn answer the page's script put in a form field (JSON), or None when it is not one."""
    if not raw or len(raw) > CREDENTIAL_MAX_BYTES:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def totp_setup_shown(*, user, setup_id: str) -> dict | None:
    """The secret, URI and QR code of a TOTP setup still waiting for its first code (shown again after a wrong one)."""
    try:
        row = challenge_find(raw=setup_id, purposes=(ChallengePurpose.TOTP_SETUP,), user=user)
    except MfaTokenInvalid:  # expired or spent: the caller starts a new setup
        return None
    secret = row.data.get("secret")
    return totp.totp_enrolment(user=user, secret=secret) if secret else None


def step_up_redirect(request: HttpRequest, *, next_url: str) -> HttpResponse:
    """To the step-up page (``stepup.StepUpRequired`` on a page), then back to ``next_url`` to press the button again."""
    messages.info(request, "Confirm it is you first, then try again.")
    return redirect(f"{reverse('security-step-up')}?{urlencode({'next': next_url})}")
