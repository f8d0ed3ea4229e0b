"""GET /api/accounts/events/: the caller's own security events, and nobody else's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.audit.services import audit_record
from tests.conftest import PASSWORD, make_user, oauth2_client, session_client

pytestmark = pytest.mark.django_db

URL = "/api/accounts/events/"
FIELDS = {"action", "description", "created_at", "outcome", "method", "address", "user_agent", "device", "client_id"}


def jwt_client(user) -> APIClient:
    response = APIClient().post("/api/token/", {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


def rows(user, count: int, *, action=AuditAction.PROFILE_UPDATED, start=None) -> None:
    start = start or timezone.now() - timedelta(days=1)
    AuditEvent.objects.bulk_create(
        AuditEvent(action=action, created_at=start + timedelta(seconds=i), user=user, method="session", data={"n": i})
        for i in range(count)
    )


def actions(response) -> list[str]:
    return [event["action"] for event in response.json()["results"]]


def test_every_credential_kind_sees_its_own_events_newest_first(user, client_for, rf):
    client = client_for(user)
    # A refused second factor on the account from elsewhere, then one change of the user's own.
    audit_record(action=AuditAction.MFA_FAILED, request=rf.get("/", REMOTE_ADDR="192.0.2.9", HTTP_USER_AGENT="evil/1"),
                 user=user, method="session")
    client.patch("/api/accounts/profile/", {"first_name": "Al"}, format="json")
    response = client.get(URL)
    assert response.status_code == 200, response.content
    body = response.json()
    events = body["results"]
    assert body["count"] == AuditEvent.objects.filter(user=user).count() == len(events)
    assert [e["created_at"] for e in events] == sorted((e["created_at"] for e in events), reverse=True)
    assert events[0]["action"] == "profile_updated" and events[0]["outcome"] == "success"
    failed = next(e for e in events if e["action"] == "mfa_failed")
    assert failed == {**failed, "outcome": "failure", "address": "192.0.2.9", "user_agent": "evil/1", "method": "session"}
    for event in events:
        assert set(event) == FIELDS


def test_jwt_sign_ins_see_their_events(user):
    response = jwt_client(user).get(URL)
    assert response.status_code == 200
    assert actions(response)[0] == "token_issued"
    assert response.json()["results"][0]["method"] == "jwt"


def test_device_and_client_names_are_shown_but_no_ids_or_typed_usernames(user):
    client = APIClient()
    token = client.post("/api/auth-token/", {"username": "alice", "password": PASSWORD, "device_name": "Pixel 9"}, format="json")
    assert token.status_code in (200, 201), token.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    audit_record(action=AuditAction.LOGIN_FAILED, request=None, user=user, username="alice-typed-differently", method="token")
    body = client.get(URL).content.decode()
    events = client.get(URL).json()["results"]
    issued = next(e for e in events if e["action"] == "token_issued")
    assert issued["device"] == "Pixel 9" and issued["method"] == "token"
    assert "token_id" not in body and "alice-typed-differently" not in body
    assert all(str(pk) not in {str(v) for v in e.values()} for e in events for pk in AuditEvent.objects.values_list("pk", flat=True))


def test_oauth2_needs_the_read_scope(user):
    assert oauth2_client(user, scope="read").get(URL).status_code == 200
    response = oauth2_client(user, scope="write").get(URL)
    assert response.status_code == 403 and response.json()["code"] == "insufficient_scope"


def test_anonymous_is_refused(api):
    response = api.get(URL)
    assert response.status_code == 401
    assert set(response.json()) >= {"detail"}


def test_never_another_users_events_staff_included(user, other_user, staff):
    rows(other_user, 5, action=AuditAction.PASSWORD_CHANGED)
    rows(user, 2)
    # Smuggled selectors are not parameters of this endpoint: still only the caller's rows.
    for who in (user, staff):
        client = session_client(who)
        for query in ("", f"?user={other_user.pk}", f"?user_id={other_user.pk}", f"?username={other_user.username}",
                      f"?user__username={other_user.username}", "?user=&user_id=", f"?user[]={other_user.pk}"):
            response = client.get(URL + query)
            assert response.status_code == 200, (query, response.content)
            assert "password_changed" not in actions(response), query
            assert response.json()["count"] == AuditEvent.objects.filter(user=who).count()
    assert session_client(staff).get(URL).json()["count"] == AuditEvent.objects.filter(user=staff).count()


def test_paginated_like_the_other_lists_and_bad_pages_are_a_clear_404(user):
    client = session_client(user)
    rows(user, 25)
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "PAGE_SIZE": 10}):
        first = client.get(URL).json()
        assert len(first["results"]) == 10 and first["count"] == 26 and first["next"] and first["previous"] is None
        last = client.get(URL + "?page=3").json()
        assert len(last["results"]) == 6 and last["next"] is None
        seen = [e["created_at"] for p in (1, 2, 3) for e in client.get(URL + f"?page={p}").json()["results"]]
        assert len(seen) == len(set(seen)) == 26  # no row twice, none missed
        for page in ("4", "99999999999999999999999", "-1", "0", "abc", "1.5", "%00", "1e9", "" + "9" * 5000):
            response = client.get(URL + f"?page={page}")
            assert response.status_code == 404, (page, response.status_code)
            assert response.json()["code"] == "not_found"
        assert client.get(URL + "?page=last").status_code == 200  # DRF's name for the last page
        assert client.get(URL + "?page_size=100000").json()["results"].__len__() == 10  # not a parameter


def test_throttled_per_user(user, other_user):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "account_events": "3/min"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        client = session_client(user)
        assert [client.get(URL).status_code for _ in range(3)] == [200, 200, 200]
        refused = client.get(URL)
        assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
        assert refused.json()["code"] == "throttled"
        assert session_client(other_user).get(URL).status_code == 200  # per user, not per address


def test_writes_are_not_allowed(user):
    client = session_client(user)
    before = AuditEvent.objects.count()
    for method in ("post", "put", "patch", "delete"):
        response = getattr(client, method)(URL, {"action": "logout"}, format="json")
        assert response.status_code == 405, method
    assert AuditEvent.objects.count() == before


def test_the_schema_describes_it_with_its_errors(api):
    schema = api.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/accounts/events/"]["get"]
    assert {"200", "401", "403", "404", "429"} <= set(operation["responses"])
    assert operation["summary"]
    item = schema["components"]["schemas"]["AuditEventOutput"]
    assert set(item["properties"]) == FIELDS


def test_many_events_are_one_page_in_a_bounded_number_of_queries(user, django_assert_max_num_queries):
    client = session_client(user)
    rows(user, 120)
    make_user("zed")
    with django_assert_max_num_queries(8):
        assert client.get(URL).status_code == 200
