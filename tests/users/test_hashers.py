import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, identify_hasher, make_password
from django.test import override_settings

from bouncer.users.hashers import BouncerArgon2PasswordHasher
from bouncer.users.models import User

pytestmark = pytest.mark.django_db

PRODUCTION_HASHERS = [
    "bouncer.users.hashers.BouncerArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]


def test_argon2id_at_owasp_minimum_by_default():
    encoded = BouncerArgon2PasswordHasher().encode("pw-123456789", BouncerArgon2PasswordHasher().salt())
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


@override_settings(BOUNCER_ARGON2={"memory_cost": 32768, "time_cost": 3, "parallelism": 1})
def test_argon2_cost_comes_from_settings_at_call_time():
    hasher = BouncerArgon2PasswordHasher()
    assert "m=32768,t=3,p=1" in hasher.encode("pw-123456789", hasher.salt())


@override_settings(PASSWORD_HASHERS=PRODUCTION_HASHERS)
def test_registration_hashes_with_argon2id(api):
    api.post("/api/accounts/register/", {"username": "newbie", "email": "n@example.com", "password": "testpass123"}, format="json")
    assert identify_hasher(User.objects.get().password).algorithm == "argon2"


@override_settings(PASSWORD_HASHERS=PRODUCTION_HASHERS)
def test_pbkdf2_hash_is_upgraded_to_argon2id_at_login(api):
    user = User.objects.create(username="legacy", email="l@example.com")
    user.password = make_password("legacy-password-1", hasher=PBKDF2PasswordHasher())
    user.save()
    assert api.post("/api/accounts/login/", {"username": "legacy", "password": "legacy-password-1"}, format="json").status_code == 200
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


@override_settings(PASSWORD_HASHERS=PRODUCTION_HASHERS)
def test_argon2_hash_with_old_cost_is_rehashed_at_login(api):
    with override_settings(BOUNCER_ARGON2={"memory_cost": 19456, "time_cost": 2, "parallelism": 1}):
        User.objects.create_user(username="u", email="u@example.com", password="some-password-1")
    with override_settings(BOUNCER_ARGON2={"memory_cost": 20480, "time_cost": 2, "parallelism": 1}):
        api.post("/api/accounts/login/", {"username": "u", "password": "some-password-1"}, format="json")
    assert "m=20480" in User.objects.get().password


@override_settings(PASSWORD_HASHERS=PRODUCTION_HASHERS)
def test_unknown_user_login_still_runs_the_hasher(api, monkeypatch):
    calls = []
    original = BouncerArgon2PasswordHasher.encode

    def counting(self, password, salt):
        calls.append(1)
        return original(self, password, salt)

    monkeypatch.setattr(BouncerArgon2PasswordHasher, "encode", counting)
    response = api.post("/api/accounts/login/", {"username": "nobody", "password": "whatever-1"}, format="json")
    assert response.status_code == 400
    assert calls, "an unknown username must cost a hash, like a wrong password does"
