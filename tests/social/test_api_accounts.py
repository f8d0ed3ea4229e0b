"""GET /api/auth/social/, POST /api/auth/social/<provider>/ (link), DELETE /api/auth/social/<id>/ (unlink)."""

from __future__ import annotations

import pytest
from allauth.socialaccount.models import SocialAccount
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.users.models import User
from tests.conftest import make_user, session_client, token_client
from tests.social.conftest import code_body
from tests.social.recorded import google_claims, id_token

pytestmark = pytest.mark.django_db

NONCE = "n-0S6_WzA2Mj"


def link(user, provider="github", uid="583231", **extra) -> SocialAccount:
    return SocialAccount.objects.create(user=user, provider=provider, uid=uid, extra_data=extra)


def passwordless(username="pat") -> User:
    user = User.objects.create_user(username=username, email=f"{username}@example.com")
    user.set_unusable_password()
    user.save()
    return user


# --- list -------------------------------------------------------------------------------------


def test_list_shows_only_my_linked_providers_with_every_credential(client_for, user, other_user, providers):
    mine = link(user, email="alice@example.com")
    link(other_user, provider="google", uid="1")

    response = client_for(user).get("/api/auth/social/")

    assert response.status_code == 200
    assert response.json() == [{
        "id": mine.pk, "provider": "github", "uid": "583231", "email": "alice@example.com",
        "created": response.json()[0]["created"], "last_login": response.json()[0]["last_login"],
    }]


def test_list_reads_the_email_of_an_openid_connect_identity(user, providers):
    link(user, provider="idp", uid="7", userinfo={"sub": "7", "email": "a@idp.example"}, id_token={"sub": "7"})

    assert token_client(user).get("/api/auth/social/").json()[0]["email"] == "a@idp.example"


def test_list_without_credentials_answers_401(api):
    response = api.get("/api/auth/social/")

    assert response.status_code == 401
    assert "WWW-Authenticate" in response


# --- unlink -----------------------------------------------------------------------------------


def test_unlink_with_a_password_left_answers_204_and_audits(user, providers):
    account = link(user)
    client = session_client(user)

    response = client.delete(f"/api/auth/social/{account.pk}/")

    assert response.status_code == 204
    assert not SocialAccount.objects.exists()
    assert AuditEvent.objects.get(action=AuditAction.SOCIAL_UNLINKED).data == {"provider": "github"}


def test_unlink_with_another_provider_left_answers_204(providers):
    user = passwordless()
    account = link(user)
    link(user, provider="google", uid="1")

    assert token_client(user).delete(f"/api/auth/social/{account.pk}/").status_code == 204
    assert SocialAccount.objects.get().provider == "google"


def test_unlink_of_the_last_way_in_answers_409_and_keeps_it(providers):
    user = passwordless()
    account = link(user)

    response = token_client(user).delete(f"/api/auth/social/{account.pk}/")

    assert response.status_code == 409
    assert response.json()["code"] == "last_signin_method"
    assert SocialAccount.objects.filter(pk=account.pk).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.SOCIAL_UNLINKED).exists()


def test_unlink_of_another_users_account_answers_like_an_unknown_id(user, other_user, providers):
    theirs = link(other_user)
    client = token_client(user)

    foreign = client.delete(f"/api/auth/social/{theirs.pk}/")
    unknown = client.delete("/api/auth/social/999999/")

    assert foreign.status_code == unknown.status_code == 404
    assert foreign.content == unknown.content
    assert SocialAccount.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize("path", ["/api/auth/social/abc/", "/api/auth/social/99999999999999999999999/", "/api/auth/social/-1/"])
def test_unlink_of_a_malformed_id_answers_4xx_not_500(user, providers, path):
    response = token_client(user).delete(path)

    assert 400 <= response.status_code < 500


def test_unlink_with_a_session_needs_csrf(user, providers):
    account = link(user)
    client = session_client(user)
    client.credentials()  # the X-CSRFToken header dropped

    response = client.delete(f"/api/auth/social/{account.pk}/")

    assert response.status_code == 403
    assert SocialAccount.objects.exists()


# --- link -------------------------------------------------------------------------------------


def test_link_with_an_id_token_answers_201_and_the_account(user, recorded):
    recorded.google_certs()
    client = token_client(user)

    response = client.post("/api/auth/social/google/", {"id_token": id_token(google_claims()), "nonce": NONCE}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["provider"] == "google"
    assert response.json()["email"] == "grace@gmail.com"
    assert SocialAccount.objects.get().user == user
    assert AuditEvent.objects.get(action=AuditAction.SOCIAL_LINKED).data == {"provider": "google", "by": "user"}
    assert User.objects.count() == 1


def test_link_with_a_code_answers_201(user, recorded):
    recorded.github_code()

    response = session_client(user).post("/api/auth/social/github/", code_body(), format="json")

    assert response.status_code == 201, response.content
    assert SocialAccount.objects.get().user == user


def test_link_of_an_identity_linked_to_someone_else_answers_409(user, other_user, recorded):
    recorded.google_certs()
    theirs = link(other_user, provider="google", uid="110169484474386276334")

    response = token_client(user).post("/api/auth/social/google/", {"id_token": id_token(google_claims()), "nonce": NONCE}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "social_account_taken"
    assert SocialAccount.objects.get().pk == theirs.pk and theirs.user == other_user


def test_link_of_my_own_identity_again_answers_200_and_changes_nothing(user, recorded):
    recorded.google_certs()
    mine = link(user, provider="google", uid="110169484474386276334")

    response = token_client(user).post("/api/auth/social/google/", {"id_token": id_token(google_claims()), "nonce": NONCE}, format="json")

    assert response.status_code == 200
    assert response.json()["id"] == mine.pk
    assert not AuditEvent.objects.filter(action=AuditAction.SOCIAL_LINKED).exists()


def test_link_whose_verified_email_is_another_accounts_does_not_take_the_address(user, recorded):
    from allauth.account.models import EmailAddress

    owner = make_user("gracie")
    EmailAddress.objects.create(user=owner, email="grace@gmail.com", verified=True, primary=True)
    recorded.google_certs()

    response = token_client(user).post("/api/auth/social/google/", {"id_token": id_token(google_claims()), "nonce": NONCE}, format="json")

    assert response.status_code == 201, response.content
    assert EmailAddress.objects.get(email="grace@gmail.com").user == owner


def test_link_anonymous_answers_401_and_asks_no_provider(api, recorded):
    response = api.post("/api/auth/social/google/", {"id_token": "a.b.c", "nonce": "n"}, format="json")

    assert response.status_code == 401
    assert not recorded.mock.calls


def test_link_with_a_bad_token_answers_400(user, recorded):
    recorded.play("google", "tokeninfo_invalid")

    response = token_client(user).post("/api/auth/social/google/", {"access_token": "bad"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "social_token_invalid"
    assert not SocialAccount.objects.exists()


def test_link_to_an_unknown_provider_answers_404(user, recorded):
    response = token_client(user).post("/api/auth/social/twitter/", {"access_token": "t"}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_link_then_sign_in_with_it_reaches_my_account(user, recorded):
    recorded.google_certs()
    token_client(user).post("/api/auth/social/google/", {"id_token": id_token(google_claims()), "nonce": NONCE}, format="json")

    response = APIClient().post("/api/auth/google/", {"id_token": id_token(google_claims(nonce="other")), "nonce": "other"}, format="json")

    assert response.status_code == 200
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert me.get("/api/accounts/profile/").json()["username"] == "alice"


# --- the two routes of one shape (found by the fuzzer: an undescribed 405) -----------------------


def test_numeric_provider_and_non_numeric_account_id_answer_405_as_described(user, providers):
    from tests.schema_support import assert_answer_described

    account = link(user)
    client = session_client(user)
    link_numeric = client.post("/api/auth/social/0/", {"access_token": "x"}, format="json")
    unlink_word = client.delete("/api/auth/social/github/")
    assert link_numeric.status_code == 405 and unlink_word.status_code == 405
    assert_answer_described(link_numeric, "POST", "/api/auth/social/0/")
    assert_answer_described(unlink_word, "DELETE", "/api/auth/social/github/")
    assert SocialAccount.objects.filter(pk=account.pk).exists()
