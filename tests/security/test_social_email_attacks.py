"""An attacker's pass over issue 9 as merged: social sign-in, the email flows and their pages.

Each test is one attack: every way to the same state (the admin, allauth URLs
that must not be mounted), another person's ids, bodies no client would send,
races on PostgreSQL, and what the pages tell about who has an account.
"""

from __future__ import annotations

import pytest
import time_machine
from allauth.account.models import EmailAddress
from allauth.account.utils import user_pk_to_url_str
from allauth.socialaccount.models import SocialAccount
from django.core import mail
from django.test import Client
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.users.models import User
from tests.concurrency import at_once
from tests.conftest import PASSWORD, make_user, session_client, token_client
from tests.social.conftest import social_post
from tests.social.test_browser_admin import admin_client as signed_in_admin
from tests.users.email.conftest import rates, reset_parts

RESET = "/api/auth/password/reset/"
CONFIRM = "/api/auth/password/reset/confirm/"
VERIFY = "/api/auth/registration/verify-email/"
RESEND = "/api/auth/registration/resend-email/"
NEW = "a-brand-new-passphrase-9"


def _reset_link(user) -> tuple[str, str]:
    mail.outbox.clear()
    assert APIClient().post(RESET, {"email": user.email}, format="json").status_code == 200
    return reset_parts(mail.outbox[-1].body)


def _confirm(uid: str, token: str, password: str = NEW):
    return APIClient().post(CONFIRM, {"uid": uid, "token": token, "new_password1": password, "new_password2": password}, format="json")


# --- every way in: no allauth view but the provider URLs is mounted ---------------------------


def _views(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _views(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            callback = pattern.callback
            while hasattr(callback, "__wrapped__"):
                callback = callback.__wrapped__
            yield prefix + str(pattern.pattern), pattern.name or "", getattr(callback, "__module__", "") or ""


def test_no_allauth_view_but_the_provider_redirect_and_callback_is_mounted():
    allauth = [(route, name) for route, name, module in _views(get_resolver().url_patterns) if module.startswith("allauth")]
    assert allauth, "the provider URLs are allauth's views"
    assert all(name.endswith(("_login", "_callback")) for _route, name in allauth), allauth


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/signup/done/", "/accounts/email/", "/accounts/confirm-email/abc/", "/accounts/password/change/",
        "/accounts/password/set/", "/accounts/password/reset/done/", "/accounts/password/reset/key/1-set-password/",
        "/accounts/password/reset/key/done/", "/accounts/inactive/", "/accounts/reauthenticate/",
        "/accounts/login/code/", "/accounts/3rdparty/", "/accounts/social/connections/", "/accounts/3rdparty/signup/",
        "/accounts/social/signup/", "/accounts/3rdparty/login/cancelled/", "/accounts/social/login/error/",
        "/accounts/google/login/token/", "/accounts/facebook/login/token/", "/_allauth/browser/v1/auth/password/reset",
        "/_allauth/app/v1/auth/provider/token",
    ],
)
def test_allauth_account_and_headless_urls_are_not_reachable(path):
    try:
        match = resolve(path)
    except Resolver404:
        return
    module = getattr(match.func, "__module__", "")
    assert not module.startswith("allauth"), (path, module)


# --- the admin ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_deletes_a_user_with_linked_providers_and_addresses_without_a_500():
    victim = make_user("linked")
    EmailAddress.objects.create(user=victim, email=victim.email, primary=True, verified=True)
    SocialAccount.objects.create(user=victim, provider="github", uid="583231", extra_data={"login": "octo"})
    client = signed_in_admin()

    confirm = client.get(f"/admin/users/user/{victim.pk}/delete/")
    assert confirm.status_code == 200
    response = client.post(f"/admin/users/user/{victim.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302, response.content[:500]
    assert not User.objects.filter(pk=victim.pk).exists()
    assert not SocialAccount.objects.exists()
    assert not EmailAddress.objects.filter(email=victim.email).exists()


@pytest.mark.django_db
def test_admin_bulk_delete_of_users_with_linked_providers_has_no_500():
    users = [make_user(name) for name in ("one", "two")]
    for index, user in enumerate(users):
        EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
        SocialAccount.objects.create(user=user, provider="github", uid=str(100 + index))
    client = signed_in_admin()
    ids = [str(user.pk) for user in users]

    response = client.post("/admin/users/user/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"})

    assert response.status_code == 302, response.content[:500]
    assert not User.objects.filter(pk__in=ids).exists()


# --- another user's ids ------------------------------------------------------------------------


@pytest.mark.django_db
def test_reset_token_of_mine_with_another_users_uid_is_refused_and_changes_nothing(user, other_user):
    _uid, my_token = _reset_link(user)

    response = _confirm(user_pk_to_url_str(other_user), my_token)

    assert response.status_code == 400
    assert response.json()["code"] == "reset_link_invalid"
    other_user.refresh_from_db()
    assert other_user.check_password(PASSWORD)
    assert not AuditEvent.objects.filter(action=AuditAction.PASSWORD_RESET_COMPLETED).exists()


@pytest.mark.django_db
def test_unlink_page_of_another_users_link_answers_404_and_keeps_it(user, other_user):
    theirs = SocialAccount.objects.create(user=other_user, provider="github", uid="999")
    client = Client()
    client.force_login(user)

    response = client.post(f"/accounts/connections/{theirs.pk}/unlink/")

    assert response.status_code == 404
    assert SocialAccount.objects.filter(pk=theirs.pk).exists()


# --- bodies no client would send ---------------------------------------------------------------

NUL = "a\x00b"
BAD_BODIES = [
    (RESET, {"email": "x\x00@example.com"}),
    (RESET, {"email": ["a@example.com"]}),
    (RESET, {"email": {"$ne": ""}}),
    (RESET, {"email": "a@example.com", "is_staff": True}),
    (CONFIRM, {"uid": NUL, "token": NUL, "new_password1": NUL, "new_password2": NUL}),
    (CONFIRM, {"uid": ["1"], "token": ["t"], "new_password1": [NEW], "new_password2": [NEW]}),
    (CONFIRM, {"uid": "z" * 64, "token": "t-t", "new_password1": NEW, "new_password2": NEW}),
    (CONFIRM, {"uid": "-1", "token": "t-t", "new_password1": NEW, "new_password2": NEW}),
    (CONFIRM, {"uid": "1" * 33, "token": "t-t", "new_password1": NEW, "new_password2": NEW}),
    (VERIFY, {"key": NUL}),
    (VERIFY, {"key": ["k"]}),
    (VERIFY, {"key": "x" * 256}),
    (VERIFY, {"key": "MQ:1tEVaA:" + "A" * 43}),
    (RESEND, {"email": ["a@example.com"]}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "body"), BAD_BODIES)
def test_malformed_email_flow_bodies_answer_400_json_not_500(settings, path, body):
    settings.REST_FRAMEWORK = rates()
    response = APIClient().post(path, body, format="json")

    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.django_db
@pytest.mark.parametrize("path", [RESET, CONFIRM, VERIFY, RESEND, "/api/auth/social/github/", "/api/auth/oidc/"])
@pytest.mark.parametrize(
    ("raw", "content_type"),
    [(b"\xff\xfe{", "application/json"), (b'{"email": "a@b.c"', "application/json"), (b"[]", "application/json"),
     (b'"a string"', "application/json"), (b"email=%FF%FE", "application/x-www-form-urlencoded"),
     (b"x" * (1024 * 1024 + 7), "application/json"), (b'{"email": "\\udcff@example.com", "key": "\\udcff", "code": "\\ud800"}', "application/json")],
)
def test_raw_garbage_and_huge_bodies_on_the_new_endpoints_answer_4xx_json(settings, user, path, raw, content_type):
    settings.REST_FRAMEWORK = rates()
    client = token_client(user) if "/social/" in path else APIClient()

    response = client.generic("POST", path, raw, content_type=content_type)

    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]


PAGE_POSTS = [
    ("/accounts/signup/", {"username": NUL, "email": "x\x00@example.com", "password": NUL}),
    ("/accounts/signup/", {"username": "u" * 100_000, "email": "a" * 100_000, "password": "p" * 100_000}),
    ("/accounts/password/reset/", {"email": "x\x00@example.com"}),
    ("/accounts/verify-email/resend/", {"email": "\x00"}),
    ("/accounts/password/reset/1/x-y/", {"new_password1": NUL, "new_password2": NUL}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "data"), PAGE_POSTS)
def test_malformed_page_posts_answer_400_and_create_nothing(settings, path, data):
    settings.REST_FRAMEWORK = rates()
    before = User.objects.count()

    response = Client().post(path, data)

    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert User.objects.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    ["/accounts/password/reset/" + "z" * 5000 + "/" + "t" * 5000 + "/", "/accounts/password/reset/%00/%00/",
     "/accounts/password/reset/zzzzzzzzzzzzzzzzzzzzzzzzzzzz/a-b/", "/accounts/verify-email/%00/",
     "/accounts/verify-email/" + "k" * 10_000 + "/"],
)
def test_malformed_links_answer_a_page_not_500(settings, path):
    settings.REST_FRAMEWORK = rates()
    response = Client().get(path)
    assert response.status_code in (200, 400, 404), response.status_code
    if "password/reset" in path:
        assert response.status_code == 400


@pytest.mark.django_db
def test_privilege_fields_on_the_sign_up_page_are_ignored(settings):
    settings.REST_FRAMEWORK = rates()
    response = Client().post(
        "/accounts/signup/",
        {"username": "mallory", "email": "mallory@example.com", "password": "a-long-passphrase-1",
         "is_staff": "on", "is_superuser": "on", "is_active": "on", "groups": "1", "user_permissions": "1"},
    )

    assert response.status_code == 200, response.content[:300]
    mallory = User.objects.get(username="mallory")
    assert not mallory.is_staff and not mallory.is_superuser
    assert not mallory.groups.exists() and not mallory.user_permissions.exists()


# --- credential lifecycle ---------------------------------------------------------------------


@pytest.mark.django_db
def test_deactivating_a_social_only_user_ends_its_credentials_and_social_sign_in(recorded):
    from tests.social.recorded import google_claims, id_token

    recorded.google_certs()
    api = APIClient()
    first = social_post(api, "google", {"id_token": id_token(google_claims()), "nonce": "n-0S6_WzA2Mj"})
    assert first.status_code == 200, first.content
    access = first.json()["access"]
    user = SocialAccount.objects.get().user
    held = token_client(user)
    user.is_active = False
    user.save()

    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert bearer.get("/api/accounts/profile/").status_code == 401
    assert held.get("/api/accounts/profile/").status_code == 401
    recorded.google_certs()
    again = social_post(APIClient(), "google", {"id_token": id_token(google_claims(jti="second")), "nonce": "n-0S6_WzA2Mj"})
    assert again.status_code in (400, 401, 403), again.content
    assert "access" not in again.json()


# --- races on the database ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_different_valid_reset_links_used_at_once_set_one_password(settings):
    settings.REST_FRAMEWORK = rates()
    user = make_user("alice")
    with time_machine.travel("2030-01-01 10:00:00", tick=False):
        first = _reset_link(user)
    with time_machine.travel("2030-01-01 10:00:05", tick=False):
        second = _reset_link(user)
    assert first[1] != second[1]
    passwords = ["racing-passphrase-1", "racing-passphrase-2"]

    with time_machine.travel("2030-01-01 10:01:00", tick=False):
        answers = at_once([lambda: _confirm(*first, passwords[0]).status_code, lambda: _confirm(*second, passwords[1]).status_code])

    assert sorted(answers) == [200, 400], answers
    assert User.objects.get(pk=user.pk).check_password(passwords[answers.index(200)])
    assert AuditEvent.objects.filter(action=AuditAction.PASSWORD_RESET_COMPLETED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_social_first_sign_in_racing_a_password_registration_of_the_address_makes_one_account(settings, recorded):
    from tests.social.recorded import google_claims, id_token

    settings.REST_FRAMEWORK = rates()
    recorded.google_certs()
    address = "grace@gmail.com"

    def register():
        return APIClient().post("/api/accounts/register/", {"username": "grace_pw", "email": address, "password": "a-long-passphrase-1"},
                                format="json").status_code

    def social():
        return social_post(APIClient(), "google", {"id_token": id_token(google_claims()), "nonce": "n-0S6_WzA2Mj"}).status_code

    answers = at_once([register, social])

    assert all(isinstance(answer, int) and answer < 500 for answer in answers), answers
    assert User.objects.filter(email_normalized=address).count() == 1
    assert EmailAddress.objects.filter(email__iexact=address, verified=True).count() <= 1


# --- enumeration on the pages ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/password/reset/", "/accounts/verify-email/resend/"])
def test_email_pages_answer_the_same_for_a_known_and_an_unknown_address(settings, user, path):
    settings.REST_FRAMEWORK = rates()
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
    known = Client().post(path, {"email": user.email})
    unknown = Client().post(path, {"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == 200
    strip = lambda response, email: response.content.decode().replace(email, "EMAIL")  # noqa: E731
    assert strip(known, user.email) == strip(unknown, "nobody@example.com")
    assert dict(known.cookies).keys() == dict(unknown.cookies).keys()


@pytest.mark.django_db
def test_connections_page_anonymous_redirects_to_sign_in_keeping_next():
    response = Client().get("/accounts/connections/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/accounts/connections/")


# --- reset and verification kill what they should -----------------------------------------------


@pytest.mark.django_db
def test_reset_ends_every_credential_including_the_resetting_browsers_session(user):
    session = session_client(user)
    held = token_client(user)
    uid, token = _reset_link(user)

    assert _confirm(uid, token).status_code == 200

    assert session.get("/api/accounts/profile/").status_code in (401, 403)
    assert held.get("/api/accounts/profile/").status_code == 401


# --- pre-hijacking: ways in set up before anyone proved the address ------------------------------


def _attacker_google(mock, nonce: str = "n-0S6_WzA2Mj"):
    """The attacker's own Google account, asserting the victim's address *without* vouching for it."""
    from tests.social.recorded import google_claims, id_token

    mock.google_certs()
    claims = google_claims(sub="attacker-google-1", email="victim@example.org", email_verified=False, nonce=nonce)
    return social_post(APIClient(), "google", {"id_token": id_token(claims), "nonce": nonce})


@pytest.mark.django_db
def test_reset_by_the_address_owner_unlinks_a_provider_set_up_before_the_address_was_proven(settings, recorded):
    settings.REST_FRAMEWORK = rates()
    # The attacker signs up through a provider with the victim's (unproven) address.
    assert _attacker_google(recorded).status_code == 200
    account = User.objects.get(email_normalized="victim@example.org")
    assert not EmailAddress.objects.get(user=account).verified
    # The victim cannot register the address (taken), so they reset "their" password.
    uid, token = _reset_link(account)
    assert _confirm(uid, token).status_code == 200

    # The attacker's provider identity must not still lead into the victim's account.
    again = _attacker_google(recorded, nonce="n-second-try")

    assert "access" not in again.json(), again.content
    assert not SocialAccount.objects.filter(user=account).exists()
    unlinked = AuditEvent.objects.get(action=AuditAction.SOCIAL_UNLINKED)
    assert unlinked.user_id == account.pk
    assert unlinked.data == {"provider": "google", "reason": "address_claimed", "by": "password_reset"}


@pytest.mark.django_db
def test_reset_on_an_account_with_a_proven_address_keeps_its_providers(user, providers):
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    SocialAccount.objects.create(user=user, provider="github", uid="583231")
    uid, token = _reset_link(user)

    assert _confirm(uid, token).status_code == 200

    assert SocialAccount.objects.filter(user=user).count() == 1
    assert not AuditEvent.objects.filter(action=AuditAction.SOCIAL_UNLINKED).exists()


@pytest.mark.django_db
def test_reset_unlinks_a_provider_an_attacker_linked_to_a_password_account_with_the_victims_address(settings, providers):
    settings.REST_FRAMEWORK = rates()
    # The attacker registers with the victim's address and links their own GitHub while signed in.
    attacker_made = User.objects.create_user(username="squatter", email="victim@example.org", password=PASSWORD)
    EmailAddress.objects.create(user=attacker_made, email="victim@example.org", primary=True, verified=False)
    SocialAccount.objects.create(user=attacker_made, provider="github", uid="attacker-gh")
    uid, token = _reset_link(attacker_made)

    assert _confirm(uid, token).status_code == 200

    assert not SocialAccount.objects.filter(user=attacker_made).exists()
