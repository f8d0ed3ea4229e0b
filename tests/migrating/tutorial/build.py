"""Build tutorial 000's database the way its users would have: migrate, then sign up,
sign in and get tokens through the project's own endpoints (Django's test client
against its URLconf, in this process with this project's settings).

    TUTORIAL_DATABASE_URL=sqlite:////tmp/old.sqlite3 python build.py

Prints one JSON object: the credentials the old clients hold (passwords are
``PASSWORD``), for tests/migrating/test_import.py to present to Bouncer.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drf_auth_demo.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from oauth2_provider.models import Application  # noqa: E402

PASSWORD = "testpass123"

#: Users who sign in to Bouncer one way each, so each way's hash upgrade is seen on its own
#: (way_session also holds the old session, DRF token and JWTs; way_oauth the OAuth2 tokens).
WAYS = ("session", "page", "token", "jwt", "oauth", "basic")


def ok(response, status=200):
    assert response.status_code == status, (response.status_code, response.content[:500])
    return response.json()


def register(client, username, email, **extra):
    body = {"username": username, "email": email, "password": PASSWORD, **extra}
    return ok(client.post("/api/accounts/register/", body, content_type="application/json"), 201)


def password_grant(client, app_client_id, username, secret=None):
    data = {"grant_type": "password", "username": username, "password": PASSWORD, "client_id": app_client_id}
    if secret is not None:
        data["client_secret"] = secret
    return ok(client.post("/o/token/", data))


def main() -> None:
    call_command("migrate", "--noinput", verbosity=0)
    client = Client()
    out = {"password": PASSWORD, "drf": {}, "oauth": {}}

    for way in WAYS:
        register(client, f"way_{way}", f"way_{way}@example.com")
    register(client, "publicuser", "publicuser@example.com")
    # The tutorial's sign-up serializer lets a client set is_staff: such accounts exist.
    assert register(client, "staffer", "staffer@example.com", is_staff=True)["is_staff"] is True
    register(client, "gone", "gone@example.com")
    # Django's User is case-sensitive: both exist here, and would be one account in Bouncer.
    register(client, "Carol", "carol1@example.com")
    register(client, "carol", "carol2@example.com")
    register(client, "erin", "erin@example.com")
    register(client, "erin2", "ERIN@Example.com")
    os.environ["DJANGO_SUPERUSER_PASSWORD"] = PASSWORD
    call_command("createsuperuser", "--noinput", username="root", email="root@example.com", verbosity=0)

    # Sessions: the tutorial's login view.
    browser = Client()
    assert ok(browser.post("/api/accounts/login/", {"username": "way_session", "password": PASSWORD}, content_type="application/json"))
    assert ok(browser.get("/api/accounts/profile/"))["username"] == "way_session"
    out["session_cookie"] = browser.cookies["sessionid"].value

    # DRF tokens: obtain_auth_token.
    for username in ("way_session", "gone", "Carol"):
        body = ok(client.post("/api/token-auth/", {"username": username, "password": PASSWORD}, content_type="application/json"))
        out["drf"][username] = body["token"]
    assert ok(client.get("/api/accounts/profile/", HTTP_AUTHORIZATION=f"Token {out['drf']['way_session']}"))["username"] == "way_session"

    # simplejwt: the tutorial's JWT views.
    pair = ok(client.post("/api/token/", {"username": "way_session", "password": PASSWORD}, content_type="application/json"))
    assert ok(client.get("/api/accounts/profile/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}"))["username"] == "way_session"
    out["jwt"] = pair

    # OAuth2: the application as the tutorial registers it in the admin, then the password grant.
    root = User.objects.get(username="root")
    confidential_secret = "tutorial-confidential-secret-0123456789abcdefghijklmnopqrstuvwxyz"
    confidential = Application(
        name="MyAppClient", client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_PASSWORD, redirect_uris="", user=root,
        client_secret=confidential_secret,
    )
    confidential.save()
    tokens = password_grant(client, confidential.client_id, "way_oauth", confidential_secret)
    # (The tutorial's own profile refuses this token: simplejwt, first in its order, raises for
    # any Bearer value that is not a JWT, so OAuth2Authentication never gets its turn.)
    # A second pair of the same user: one is used on the profile, the other refreshed.
    second = password_grant(client, confidential.client_id, "way_oauth", confidential_secret)
    gone_tokens = password_grant(client, confidential.client_id, "gone", confidential_secret)
    out["oauth"]["confidential"] = {
        "client_id": confidential.client_id, "client_secret": confidential_secret,
        "access_token": tokens["access_token"], "refresh_token": second["refresh_token"],
        "second_access_token": second["access_token"], "gone_access_token": gone_tokens["access_token"],
    }

    # A public client with the password grant: the posture error Bouncer reports.
    public = Application(
        name="MobileApp", client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_PASSWORD, redirect_uris="", user=root,
    )
    public.save()
    public_tokens = password_grant(client, public.client_id, "publicuser")
    out["oauth"]["public"] = {
        "client_id": public.client_id, "access_token": public_tokens["access_token"], "refresh_token": public_tokens["refresh_token"],
    }

    # A confidential client-credentials client (a service, no user).
    service_secret = "tutorial-service-secret-0123456789abcdefghijklmnopqrstuvwxyz012"
    service = Application(
        name="ReportingService", client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS, redirect_uris="", user=root,
        client_secret=service_secret,
    )
    service.save()
    service_token = ok(client.post("/o/token/", {"grant_type": "client_credentials", "client_id": service.client_id, "client_secret": service_secret}))
    out["oauth"]["service"] = {"client_id": service.client_id, "client_secret": service_secret, "access_token": service_token["access_token"]}

    # An account the operator switched off after it got its tokens (the admin's checkbox).
    gone = User.objects.get(username="gone")
    gone.is_active = False
    gone.save()

    assert all(user.password.startswith("pbkdf2_sha256$") for user in User.objects.all())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
