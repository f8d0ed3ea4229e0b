"""The email pages: sign up, forgot password, set a new password, verify (GET shows, POST confirms), resend."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from bouncer.users.models import User
from tests.conftest import PASSWORD
from tests.users.email.conftest import reset_parts, verify_key

pytestmark = pytest.mark.django_db

PAGES = ["/accounts/signup/", "/accounts/password/reset/", "/accounts/verify-email/resend/"]


def browser() -> Client:
    return Client(enforce_csrf_checks=True)


def post(client: Client, path: str, data: dict):
    """GET the page first (the CSRF cookie), then POST the form with its token, as a browser does."""
    client.get(path)
    return client.post(path, {**data, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})


@pytest.mark.parametrize("path", PAGES)
def test_each_page_has_a_label_for_every_input_and_a_csrf_token(path):
    html = Client().get(path).content.decode()
    assert 'name="csrfmiddlewaretoken"' in html and "<script" not in html
    inputs = re.findall(r'<input[^>]*type="(?!hidden)[^"]*"[^>]*id="([^"]+)"', html)
    assert inputs and all(f'for="{name}"' in html for name in inputs)
    assert 'name="viewport"' in html  # the base layout, phone-width ready


@pytest.mark.parametrize("path", PAGES)
def test_each_form_posted_without_a_csrf_token_is_refused(path):
    response = browser().post(path, {"email": "a@example.com", "username": "x", "password": PASSWORD})
    assert response.status_code == 403
    assert mail.outbox == [] and not User.objects.exists()


@pytest.mark.parametrize("path", PAGES)
def test_each_page_refuses_other_methods(path):
    assert Client().put(path).status_code == 405


# --- sign up ------------------------------------------------------------------------------


def test_sign_up_page_creates_the_account_and_mails_the_link(settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    response = post(browser(), "/accounts/signup/", {"username": "dora", "email": "dora@example.com", "password": PASSWORD})
    assert response.status_code == 200 and b"Check your mailbox" in response.content
    user = User.objects.get(username="dora")
    assert not user.is_staff and EmailAddress.objects.get(user=user).primary
    assert verify_key(mail.outbox[0].body)


@pytest.mark.parametrize("data, field", [
    ({"username": "dora", "email": "not-an-address", "password": PASSWORD}, "email"),
    ({"username": "dora", "email": "dora@example.com", "password": "123"}, "password"),
    ({"username": "bad name!", "email": "dora@example.com", "password": PASSWORD}, "username"),
])
def test_sign_up_page_with_bad_input_shows_the_error_and_creates_nothing(data, field):
    response = post(browser(), "/accounts/signup/", data)
    assert response.status_code == 400 and b'class="errorlist' in response.content
    assert not User.objects.exists() and mail.outbox == []


def test_sign_up_page_with_a_taken_address_in_mandatory_mode_looks_like_a_fresh_one(settings, user):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    fresh = post(browser(), "/accounts/signup/", {"username": "dora", "email": "dora@example.com", "password": PASSWORD})
    taken = post(browser(), "/accounts/signup/", {"username": "eve", "email": user.email, "password": PASSWORD})
    assert fresh.status_code == taken.status_code == 200
    strip = lambda r, e: r.content.decode().replace(e, "")  # noqa: E731
    assert strip(fresh, "dora@example.com") == strip(taken, user.email)
    assert not User.objects.filter(username="eve").exists()


def test_sign_up_page_is_throttled_like_the_register_api(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "register": "1/hour"}}
    client = browser()
    assert post(client, "/accounts/signup/", {"username": "dora", "email": "dora@example.com", "password": PASSWORD}).status_code == 200
    refused = post(client, "/accounts/signup/", {"username": "erin", "email": "erin@example.com", "password": PASSWORD})
    assert refused.status_code == 429 and "Retry-After" in refused
    assert not User.objects.filter(username="erin").exists()


# --- forgot password and the reset link ------------------------------------------------------


def test_forgot_password_page_shows_the_same_page_for_known_and_unknown(user):
    known = post(browser(), "/accounts/password/reset/", {"email": user.email})
    unknown = post(browser(), "/accounts/password/reset/", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.content.decode().replace(user.email, "") == unknown.content.decode().replace("nobody@example.com", "")


def test_reset_link_page_sets_the_password_once(user):
    post(browser(), "/accounts/password/reset/", {"email": user.email})
    uid, token = reset_parts(mail.outbox[0].body)
    path = f"/accounts/password/reset/{uid}/{token}/"
    client = browser()
    page = client.get(path)
    assert page.status_code == 200 and b'for="id_new_password1"' in page.content
    done = post(client, path, {"new_password1": "page-passphrase-44", "new_password2": "page-passphrase-44"})
    assert done.status_code == 200 and b"Password changed" in done.content
    assert User.objects.get(pk=user.pk).check_password("page-passphrase-44")
    assert client.get(path).status_code == 400  # used


def test_reset_link_page_with_mismatched_passwords_shows_the_error_and_changes_nothing(user):
    post(browser(), "/accounts/password/reset/", {"email": user.email})
    uid, token = reset_parts(mail.outbox[0].body)
    response = post(browser(), f"/accounts/password/reset/{uid}/{token}/", {"new_password1": "page-passphrase-44", "new_password2": "other-passphrase-45"})
    assert response.status_code == 400 and b"didn" in response.content
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)


def test_reset_link_page_with_a_bad_link_says_so(user):
    response = Client().get("/accounts/password/reset/zz/not-a-token/")
    assert response.status_code == 400 and b"Ask for a new link" in response.content


# --- verify and resend ------------------------------------------------------------------------


def _registered_key(settings) -> str:
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    post(browser(), "/accounts/signup/", {"username": "dora", "email": "dora@example.com", "password": PASSWORD})
    return verify_key(mail.outbox[-1].body)


def test_opening_the_verification_link_confirms_nothing_until_the_button_is_pressed(settings):
    key = _registered_key(settings)
    client = browser()
    page = client.get(f"/accounts/verify-email/{key}/")
    assert page.status_code == 200 and b"Confirm my address" in page.content
    assert not EmailAddress.objects.get().verified
    done = post(client, f"/accounts/verify-email/{key}/", {})
    assert done.status_code == 200 and b"Address confirmed" in done.content
    assert EmailAddress.objects.get().verified
    again = post(client, f"/accounts/verify-email/{key}/", {})
    assert again.status_code == 400 and b"already used" in again.content


def test_resend_page_sends_a_new_link_and_looks_the_same_for_any_address(settings):
    _registered_key(settings)
    mail.outbox.clear()
    known = post(browser(), "/accounts/verify-email/resend/", {"email": "dora@example.com"})
    unknown = post(browser(), "/accounts/verify-email/resend/", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.content.decode().replace("dora@example.com", "") == unknown.content.decode().replace("nobody@example.com", "")
    [message] = mail.outbox
    assert verify_key(message.body)
