"""The OAuth2 HTML pages rendered with Bouncer's templates (base layout, labels, CSRF).

The provider's behaviour is tested in the sibling modules; this checks what
users see: consent, authorized applications (and revoking one), device code,
RP-initiated logout and application management.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from oauth2_provider.models import AccessToken, get_application_model

from bouncer.audit.models import AuditAction, AuditEvent
from tests.oauth.conftest import REDIRECT, authorize, code_from, exchange, make_app, pkce_pair, post_form

pytestmark = pytest.mark.django_db

HIDDEN_FIELDS = ("redirect_uri", "scope", "nonce", "client_id", "state", "response_type", "code_challenge",
                 "code_challenge_method", "claims", "resource")


def signed_in(user) -> Client:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    return browser


def csrf(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def assert_bouncer_page(html: str) -> None:
    assert '<html lang="en">' in html and "bouncer/bouncer.css" in html and 'id="main"' in html
    assert "oauth2_provider/css" not in html  # the toolkit's layout is replaced everywhere
    # Every visible input has a label.
    for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
        if re.search(r'type="(hidden|submit)"', tag):
            continue
        ident = re.search(r'id="([^"]+)"', tag)
        assert ident and f'for="{ident.group(1)}"' in html, tag


def test_consent_page_shows_the_application_and_scopes_and_keeps_the_hidden_fields(user, code_app):
    _, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": code_app.client_id, "redirect_uri": REDIRECT,
              "scope": "openid read email", "state": "s1", "nonce": "n1",
              "code_challenge": challenge, "code_challenge_method": "S256"}
    page = signed_in(user).get("/o/authorize/", params)
    assert page.status_code == 200
    html = page.content.decode()
    assert_bouncer_page(html)
    assert code_app.application.name in html
    for description in ("Sign you in (OpenID Connect)", "Read your data", "See your email address"):
        assert description in html
    for name in HIDDEN_FIELDS:
        assert re.search(rf'<input type="hidden" name="{name}"', html), name
    assert f'value="{challenge}"' in html
    assert 'name="allow" value="Authorize"' in html and ">Deny</button>" in html


def test_consent_deny_redirects_with_access_denied(user, code_app):
    _, challenge = pkce_pair()
    browser = signed_in(user)
    params = {"response_type": "code", "client_id": code_app.client_id, "redirect_uri": REDIRECT, "scope": "read",
              "state": "s2", "code_challenge": challenge, "code_challenge_method": "S256"}
    html = browser.get("/o/authorize/", params).content.decode()
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    response = browser.post("/o/authorize/", form)  # the Deny button sends no "allow"
    assert response.status_code == 302
    assert response["Location"].startswith(REDIRECT + "?error=access_denied")
    assert "state=s2" in response["Location"]


def test_authorized_applications_list_and_revoke(user, code_app):
    verifier, challenge = pkce_pair()
    tokens = exchange(code_app, code_from(authorize(user, code_app, scope="read write", challenge=challenge)), verifier)
    assert tokens.status_code == 200
    browser = signed_in(user)
    page = browser.get("/o/authorized_tokens/")
    html = page.content.decode()
    assert page.status_code == 200
    assert_bouncer_page(html)
    assert code_app.application.name in html
    assert "Read your data" in html and "Change your data" in html and "<time datetime=" in html
    token = AccessToken.objects.get(user=user)
    action = f'action="/o/authorized_tokens/{token.pk}/delete/"'
    assert action in html and 'method="post"' in html
    # Revoking needs the CSRF token.
    assert browser.post(f"/o/authorized_tokens/{token.pk}/delete/").status_code == 403
    revoked = browser.post(f"/o/authorized_tokens/{token.pk}/delete/", {"csrfmiddlewaretoken": csrf(html)})
    assert revoked.status_code == 302 and revoked["Location"] == "/o/authorized_tokens/"
    assert not AccessToken.objects.filter(user=user).exists()
    assert code_app.application.name not in browser.get("/o/authorized_tokens/").content.decode()
    assert AuditEvent.objects.filter(action=AuditAction.CONSENT_WITHDRAWN, user=user).exists()


def test_authorized_applications_page_needs_sign_in(db):
    response = Client().get("/o/authorized_tokens/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


def test_revoke_confirmation_page(user, code_app):
    verifier, challenge = pkce_pair()
    exchange(code_app, code_from(authorize(user, code_app, challenge=challenge)), verifier)
    token = AccessToken.objects.get(user=user)
    html = signed_in(user).get(f"/o/authorized_tokens/{token.pk}/delete/").content.decode()
    assert_bouncer_page(html)
    assert f"Revoke access of {code_app.application.name}?" in html


def test_device_pages(user):
    app = make_app("device", client_type="public")
    body = post_form("/o/device-authorization/", {"client_id": app.client_id, "scope": "read"}).json()
    browser = signed_in(user)
    page = browser.get("/o/device/")
    html = page.content.decode()
    assert page.status_code == 200
    assert_bouncer_page(html)
    assert 'for="id_user_code"' in html
    wrong = browser.post("/o/device/", {"user_code": "nope", "csrfmiddlewaretoken": csrf(html)})
    assert wrong.status_code == 200 and "Incorrect user code" in wrong.content.decode()
    entered = browser.post("/o/device/", {"user_code": body["user_code"], "csrfmiddlewaretoken": csrf(html)})
    assert entered.status_code == 302
    confirm = browser.get(entered["Location"]).content.decode()
    assert_bouncer_page(confirm)
    assert app.application.name in confirm and "Read your data" in confirm
    assert 'name="action" value="accept"' in confirm and 'name="action" value="deny"' in confirm
    done = browser.post(entered["Location"], {"action": "accept", "csrfmiddlewaretoken": csrf(confirm)})
    assert done.status_code == 302
    status = browser.get(done["Location"]).content.decode()
    assert_bouncer_page(status)
    assert "Device authorized" in status


def test_rp_initiated_logout_confirm_page(user):
    app = make_app("authorization-code", post_logout_redirect_uris="https://rp.example.com/bye")
    page = signed_in(user).get("/o/logout/", {"client_id": app.client_id,
                                               "post_logout_redirect_uri": "https://rp.example.com/bye"})
    assert page.status_code == 200
    html = page.content.decode()
    assert_bouncer_page(html)
    assert f"Sign out of {app.application.name}?" in html
    assert 'name="allow" value="Logout"' in html
    assert re.search(r'<input type="hidden" name="post_logout_redirect_uri" value="https://rp.example.com/bye"', html)


def test_application_management_pages(user):
    browser = signed_in(user)
    listing = browser.get("/o/applications/")
    assert listing.status_code == 200
    assert_bouncer_page(listing.content.decode())
    form = browser.get("/o/applications/register/")
    html = form.content.decode()
    assert form.status_code == 200
    assert_bouncer_page(html)
    assert "Register an application" in html
    secret = re.search(r'name="client_secret"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="client_secret"', html)
    client_id = re.search(r'name="client_id"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="client_id"', html)
    data = {
        "csrfmiddlewaretoken": csrf(html), "name": "My page app", "client_id": client_id.group(1),
        "client_secret": secret.group(1), "client_type": "confidential",
        "authorization_grant_type": "authorization-code", "redirect_uris": "https://mine.example.com/cb",
        "post_logout_redirect_uris": "", "allowed_origins": "", "algorithm": "RS256",
    }
    created = browser.post("/o/applications/register/", data)
    assert created.status_code == 302, created.content.decode()
    application = get_application_model().objects.get(name="My page app")
    detail = browser.get(f"/o/applications/{application.pk}/").content.decode()
    assert_bouncer_page(detail)
    assert application.client_id in detail
    assert application.client_secret not in detail and secret.group(1) not in detail  # hash nor secret
    edit = browser.get(f"/o/applications/{application.pk}/update/").content.decode()
    assert_bouncer_page(edit)
    delete = browser.get(f"/o/applications/{application.pk}/delete/").content.decode()
    assert_bouncer_page(delete)
    assert browser.post(f"/o/applications/{application.pk}/delete/", {"csrfmiddlewaretoken": csrf(delete)}).status_code == 302
    assert not get_application_model().objects.filter(pk=application.pk).exists()


def _registration_data(browser, name: str) -> dict:
    html = browser.get("/o/applications/register/").content.decode()
    secret = re.search(r'name="client_secret"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="client_secret"', html)
    client_id = re.search(r'name="client_id"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="client_id"', html)
    return {
        "csrfmiddlewaretoken": csrf(html), "name": name, "client_id": client_id.group(1),
        "client_secret": secret.group(1), "client_type": "confidential",
        "authorization_grant_type": "authorization-code", "redirect_uris": "https://evil.example.com/cb",
        "post_logout_redirect_uris": "", "allowed_origins": "", "algorithm": "RS256",
    }


def test_user_registering_an_application_cannot_skip_consent(user, other_user):
    """Consent bypass: a self-registered app with skip_authorization would get
    codes for any victim sent to /o/authorize/ without a consent page."""
    browser = signed_in(user)
    assert "skip_authorization" not in browser.get("/o/applications/register/").content.decode()
    data = {**_registration_data(browser, "Evil app"), "skip_authorization": "on"}
    assert browser.post("/o/applications/register/", data).status_code == 302
    application = get_application_model().objects.get(name="Evil app")
    assert application.skip_authorization is False
    # Nor can the owner turn it on later through the update page.
    edit_url = f"/o/applications/{application.pk}/update/"
    edit = browser.get(edit_url).content.decode()
    assert "skip_authorization" not in edit
    update = {**data, "csrfmiddlewaretoken": csrf(edit), "skip_authorization": "on"}
    update.pop("client_secret")
    assert browser.post(edit_url, update).status_code == 302
    application.refresh_from_db()
    assert application.skip_authorization is False
    # The victim still gets the consent page.
    verifier, challenge = pkce_pair()
    victim = signed_in(other_user)
    page = victim.get("/o/authorize/", {
        "response_type": "code", "client_id": application.client_id, "redirect_uri": "https://evil.example.com/cb",
        "scope": "read", "code_challenge": challenge, "code_challenge_method": "S256",
    })
    assert page.status_code == 200 and "code=" not in page.get("Location", "")


def test_staff_may_register_a_first_party_application_without_consent(staff):
    browser = signed_in(staff)
    assert "skip_authorization" in browser.get("/o/applications/register/").content.decode()
    data = {**_registration_data(browser, "First party"), "skip_authorization": "on"}
    assert browser.post("/o/applications/register/", data).status_code == 302
    assert get_application_model().objects.get(name="First party").skip_authorization is True
