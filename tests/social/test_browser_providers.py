"""Google and Facebook in the browser flow, answered with their recorded shapes; PKCE end to end.

Google's token endpoint answers an id_token (read without a signature check:
it came straight from Google over TLS, as OpenID Connect allows) whose
``iss``, ``aud`` and ``exp`` allauth checks; the clock is moved with
time-machine. Facebook's Graph API never vouches for an email.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import responses
import time_machine
from allauth.socialaccount.models import SocialAccount, SocialApp
from django.test import Client

from bouncer.users.models import User
from tests.conftest import make_user
from tests.social.browser_support import GITHUB_TOKEN_URL, callback, github, github_app

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 2, 9, 15, tzinfo=datetime.timezone.utc)
GOOGLE_CLIENT_ID = "407408718192-k5ea6d0vq4b1alm2ghs4sg4d4lmd1tbf.apps.googleusercontent.com"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
#: Google's answer to a used or expired code (status 400).
GOOGLE_BAD_CODE = {"error": "invalid_grant", "error_description": "Bad Request"}

FACEBOOK_TOKEN_URL = "https://graph.facebook.com/v19.0/oauth/access_token"
FACEBOOK_ME_URL = "https://graph.facebook.com/v19.0/me"
FACEBOOK_TOKEN = {"access_token": "EAAGm0PX4ZCpsBAKZCnZBxZA0ZBZCQ5ZB", "token_type": "bearer", "expires_in": 5183944}
FACEBOOK_ME = {"id": "10224918257331234", "email": "mira@example.org", "name": "Mira Okafor", "first_name": "Mira", "last_name": "Okafor"}
#: Facebook's answer to an expired code (status 400).
FACEBOOK_BAD_CODE = {"error": {"message": "This authorization code has expired.", "type": "OAuthException", "code": 100,
                               "error_subcode": 36007, "fbtrace_id": "AbCdEfGhIjK"}}


def google_id_token(**changes) -> str:
    """The claims of a Google id_token (sub and names changed), as its token endpoint returns it."""
    claims = {
        "iss": "https://accounts.google.com", "azp": GOOGLE_CLIENT_ID, "aud": GOOGLE_CLIENT_ID,
        "sub": "110248495921238986420", "email": "mira@example.org", "email_verified": True,
        "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q", "name": "Mira Okafor", "given_name": "Mira", "family_name": "Okafor",
        "picture": "https://lh3.googleusercontent.com/a/ACg8ocJ", "iat": int(NOW.timestamp()), "exp": int(NOW.timestamp()) + 3599,
    }
    claims.update(changes)
    return jwt.encode(claims, "not-googles-key-the-signature-is-not-checked-on-this-path", algorithm="HS256")


def google_token(**claims) -> dict:
    return {"access_token": "ya29.a0AfB_byC", "expires_in": 3599, "scope": "openid https://www.googleapis.com/auth/userinfo.email",
            "token_type": "Bearer", "id_token": google_id_token(**claims)}


def start(client, provider: str) -> dict:
    response = client.post(f"/accounts/{provider}/login/")
    assert response.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}


def challenge_of(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture
def google():
    return SocialApp.objects.create(provider="google", name="Google", client_id=GOOGLE_CLIENT_ID, secret="GOCSPX-secret")


@pytest.fixture
def facebook():
    return SocialApp.objects.create(provider="facebook", name="Facebook", client_id="464891386855067", secret="fb-app-secret")


@time_machine.travel(NOW, tick=False)
def test_google_signs_in_and_links_by_verified_email(google):
    owner = make_user("mira")
    owner.email = "mira@example.org"
    owner.save()
    browser = Client()
    sent = start(browser, "google")
    assert sent["code_challenge_method"] == "S256" and "openid" in sent["scope"]
    with responses.RequestsMock() as mock:
        mock.post(GOOGLE_TOKEN_URL, json=google_token())
        response = callback(browser, sent["state"], provider="google")
        token_request = parse_qs(mock.calls[0].request.body)
    assert response.status_code == 302
    assert challenge_of(token_request["code_verifier"][0]) == sent["code_challenge"]  # PKCE: the verifier of that challenge
    assert SocialAccount.objects.get().user == owner and SocialAccount.objects.get().uid == "110248495921238986420"


@pytest.mark.parametrize("claims", [
    {"aud": "someone-elses-client.apps.googleusercontent.com"},
    {"iss": "https://evil.example"},
    {"exp": int(NOW.timestamp()) - 10},
], ids=["foreign_aud", "foreign_iss", "expired"])
@time_machine.travel(NOW, tick=False)
def test_google_id_token_not_for_us_is_refused(google, claims):
    browser = Client()
    sent = start(browser, "google")
    with responses.RequestsMock() as mock:
        mock.post(GOOGLE_TOKEN_URL, json=google_token(**claims))
        response = callback(browser, sent["state"], provider="google")
    assert response.status_code == 400
    assert "Google did not confirm who you are" in response.content.decode()
    assert not User.objects.exists()


def test_google_id_token_checked_against_the_moved_clock(google):
    """An id_token valid for a minute, read five minutes later (the state is still good for ten)."""
    with time_machine.travel(NOW, tick=False) as clock:
        browser = Client()
        sent = start(browser, "google")
        body = google_token(exp=int(NOW.timestamp()) + 60)
        clock.shift(datetime.timedelta(minutes=5))
        with responses.RequestsMock() as mock:
            mock.post(GOOGLE_TOKEN_URL, json=body)
            response = callback(browser, sent["state"], provider="google")
    assert response.status_code == 400
    assert not User.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_google_used_code_shows_a_clear_page(google):
    browser = Client()
    sent = start(browser, "google")
    with responses.RequestsMock() as mock:
        mock.post(GOOGLE_TOKEN_URL, json=GOOGLE_BAD_CODE, status=400)
        response = callback(browser, sent["state"], provider="google")
    assert response.status_code == 400
    assert "Google did not confirm who you are" in response.content.decode()


def test_facebook_signs_a_new_person_in(facebook):
    browser = Client()
    sent = start(browser, "facebook")
    with responses.RequestsMock() as mock:
        mock.get(FACEBOOK_TOKEN_URL, json=FACEBOOK_TOKEN)
        mock.get(FACEBOOK_ME_URL, json=FACEBOOK_ME)
        response = callback(browser, sent["state"], provider="facebook")
        me_request = parse_qs(urlsplit(mock.calls[1].request.url).query)
    assert response.status_code == 302
    assert "appsecret_proof" in me_request  # Graph API calls are signed with the app secret
    user = User.objects.get()
    assert (user.username, user.email, user.first_name) == ("mira", "mira@example.org", "Mira")


def test_facebook_email_is_never_taken_as_verified(facebook):
    """Facebook does not say an email is verified: an existing account with it is not linked."""
    owner = make_user("mira")
    owner.email = "mira@example.org"
    owner.save()
    browser = Client()
    sent = start(browser, "facebook")
    with responses.RequestsMock() as mock:
        mock.get(FACEBOOK_TOKEN_URL, json=FACEBOOK_TOKEN)
        mock.get(FACEBOOK_ME_URL, json=FACEBOOK_ME)
        response = callback(browser, sent["state"], provider="facebook")
    assert response.status_code == 409
    assert not SocialAccount.objects.exists()


def test_facebook_expired_code_shows_a_clear_page(facebook):
    browser = Client()
    sent = start(browser, "facebook")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(FACEBOOK_TOKEN_URL, json=FACEBOOK_BAD_CODE, status=400)
        response = callback(browser, sent["state"], provider="facebook")
    assert response.status_code == 400
    assert "Facebook did not confirm who you are" in response.content.decode()


def test_facebook_pkce_challenge_is_only_sent_with_its_verifier(facebook):
    """A challenge sent without its verifier at the exchange makes Facebook refuse every sign-in."""
    browser = Client()
    sent = start(browser, "facebook")
    with responses.RequestsMock() as mock:
        mock.get(FACEBOOK_TOKEN_URL, json=FACEBOOK_TOKEN)
        mock.get(FACEBOOK_ME_URL, json=FACEBOOK_ME)
        callback(browser, sent["state"], provider="facebook")
        exchange = parse_qs(urlsplit(mock.calls[0].request.url).query)
    if "code_challenge" in sent:
        assert challenge_of(exchange["code_verifier"][0]) == sent["code_challenge"]


def test_github_exchange_carries_the_pkce_verifier():
    github_app()
    browser = Client()
    sent = start(browser, "github")
    with github() as recorded:
        callback(browser, sent["state"])
        exchange = parse_qs(recorded.mock.calls[0].request.body)
    assert recorded.urls[0] == GITHUB_TOKEN_URL
    assert challenge_of(exchange["code_verifier"][0]) == sent["code_challenge"]
