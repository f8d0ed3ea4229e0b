"""Usernames and emails are one account whatever their case or Unicode form, on every backend (hole 4.10)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from bouncer.users.models import User
from tests.conftest import PASSWORD, make_user, token_client

pytestmark = pytest.mark.django_db

REGISTER = "/api/accounts/register/"


def register(username: str, email: str | None = None):
    email = email or f"{abs(hash(username))}@example.com"
    return APIClient().post(REGISTER, {"username": username, "email": email, "password": PASSWORD}, format="json")


def sign_in(username: str):
    return APIClient().post("/api/accounts/login/", {"username": username, "password": PASSWORD}, format="json")


@pytest.mark.parametrize("typed", ["Ärger", "ärger", "ÄRGER"])
def test_non_ascii_username_signs_in_whatever_its_case(typed):
    assert register("Ärger").status_code == 201
    response = sign_in(typed)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    "first, second",
    [("Ärger", "ärger"), ("ärger", "ÄRGER"), ("straße", "STRASSE"), ("foo", "ｆｏｏ"), ("Ǆemal", "ǆemal"), ("alice", "ALICE")],
)
def test_username_equal_after_normalisation_is_taken(first, second):
    assert register(first).status_code == 201
    response = register(second)
    assert response.status_code == 400, response.content
    assert "username" in response.json()
    assert User.objects.count() == 1


def test_username_is_displayed_as_typed():
    response = register("Ärger")
    assert response.json()["username"] == "Ärger"
    assert sign_in("ärger").status_code == 200
    assert User.objects.get().username == "Ärger"


def test_database_refuses_a_second_normalised_username_on_every_backend():
    make_user("Ärger")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="ärger", email="other@example.com", password=PASSWORD)


@pytest.mark.parametrize(
    "first, second", [("x@Ärger.example", "x@ärger.example"), ("Anna@Example.com", "anna@example.COM"), ("x@ｅxample.com", "x@example.com")]
)
def test_email_equal_after_normalisation_is_taken_at_register(first, second):
    assert register("first", first).status_code == 201
    response = register("second", second)
    assert response.status_code == 400, response.content
    assert "email" in response.json()
    assert User.objects.count() == 1


def test_email_set_on_profile_is_taken_for_registration():
    user = make_user("alice")
    response = token_client(user).patch("/api/accounts/profile/", {"email": "a@Ärger.example"}, format="json")
    assert response.status_code == 200, response.content
    assert register("second", "a@ärger.example").status_code == 400
    assert User.objects.count() == 1


def test_profile_email_taken_by_another_user_after_normalisation_is_400():
    make_user("bob")
    User.objects.filter(username="bob").update(email="b@ärger.example")
    User.objects.get(username="bob").save()  # a save fills the normalised column
    user = make_user("alice")
    response = token_client(user).patch("/api/accounts/profile/", {"email": "b@ÄRGER.example"}, format="json")
    assert response.status_code == 400, response.content
    user.refresh_from_db()
    assert user.email == "alice@example.com"


def test_database_refuses_a_second_normalised_email_on_every_backend():
    make_user("alice")
    User.objects.filter(username="alice").update(email="a@ärger.example")
    User.objects.get(username="alice").save()
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="bob", email="A@ÄRGER.example", password=PASSWORD)


def _migrate(targets):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate(targets if targets else executor.loader.graph.leaf_nodes())
    executor.loader.build_graph()
    return executor


BEFORE = [("users", "0001_initial")]


def _old_user_model():
    return _migrate(BEFORE).loader.project_state(BEFORE).apps.get_model("users", "User")


@pytest.mark.django_db(transaction=True)
def test_migration_fills_the_normalised_columns_of_existing_accounts():
    try:
        OldUser = _old_user_model()
        OldUser.objects.create(username="Ärger", email="A@Ärger.example", password="!")
        _migrate(None)
        user = User.objects.get()
        assert (user.username, user.username_normalized, user.email_normalized) == ("Ärger", "ärger", "a@ärger.example")
        assert User.objects.get_by_natural_key("ÄRGER") == user
    finally:
        _migrate(None)


@pytest.mark.django_db(transaction=True)
def test_migration_stops_and_names_accounts_that_collide_once_normalised():
    try:
        OldUser = _old_user_model()
        OldUser.objects.create(username="straße", email="s1@example.com", password="!")
        OldUser.objects.create(username="STRASSE", email="s2@example.com", password="!")
        with pytest.raises(RuntimeError, match="STRASSE") as info:
            _migrate(None)
        assert "straße" in str(info.value)
        OldUser.objects.filter(username="STRASSE").update(username="strasse2")
        _migrate(None)
        assert sorted(User.objects.values_list("username_normalized", flat=True)) == ["strasse", "strasse2"]
    finally:
        _migrate(None)


@pytest.mark.parametrize("field, value", [("username", "ärger"), ("email", "A@ÄRGER.example")])
def test_admin_add_user_equal_after_normalisation_is_a_form_error_not_500(field, value):
    from django.test import Client

    make_user("Ärger")
    User.objects.filter(username="Ärger").update(email="a@ärger.example")
    User.objects.get(username="Ärger").save()
    admin = Client()
    admin.force_login(User.objects.create_superuser("root", "root@example.com", PASSWORD))
    body = {"username": "newcomer", "email": "new@example.com", "password1": "another-pass-77", "password2": "another-pass-77",
            "usable_password": "true", field: value}
    response = admin.post("/admin/users/user/add/", body)
    assert response.status_code == 200, response.status_code
    assert "already exists" in response.content.decode()
    assert User.objects.count() == 2
