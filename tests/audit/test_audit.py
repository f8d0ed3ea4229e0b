import json
import logging

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from bouncer.audit.models import AuditAction, AuditEvent
from tests.conftest import PASSWORD, session_client, token_client

pytestmark = pytest.mark.django_db


def actions():
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def test_every_account_event_is_one_audit_row(api, user):
    api.post("/api/accounts/register/", {"username": "newbie", "email": "n@example.com", "password": "testpass123"}, format="json")
    api.post("/api/accounts/login/", {"username": "alice", "password": "wrong"}, format="json")
    client = session_client(user)
    client.post("/api/accounts/password/change/", {"old_password": PASSWORD, "new_password": "brand-new-pass-1"}, format="json")
    client.post("/api/accounts/logout/")
    token = api.post("/api/auth-token/", {"username": "alice", "password": "brand-new-pass-1"}, format="json").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    api.post("/api/auth-token/logout/")
    assert actions() == [
        AuditAction.USER_REGISTERED,
        AuditAction.EMAIL_VERIFICATION_SENT,  # BOUNCER_EMAIL_VERIFICATION defaults to optional
        AuditAction.LOGIN_FAILED,
        AuditAction.LOGIN_SUCCEEDED,
        AuditAction.PASSWORD_CHANGED,
        AuditAction.LOGOUT,
        AuditAction.TOKEN_ISSUED,
        AuditAction.TOKEN_REVOKED,
    ]


def test_failed_login_records_typed_username_address_and_agent(api):
    api.post("/api/accounts/login/", {"username": "ghost", "password": "pw"}, format="json", HTTP_USER_AGENT="curl/8", REMOTE_ADDR="192.0.2.5")
    event = AuditEvent.objects.get()
    assert (event.action, event.user, event.username, event.ip_address, event.user_agent, event.method) == (
        AuditAction.LOGIN_FAILED, None, "ghost", "192.0.2.5", "curl/8", "session",
    )
    assert "pw" not in json.dumps(event.data)


def test_each_event_is_one_json_log_line_without_secrets(api, user, caplog):
    with caplog.at_level(logging.INFO, logger="bouncer.audit"):
        api.post("/api/auth-token/", {"username": "alice", "password": PASSWORD}, format="json")
    records = [r for r in caplog.records if r.name == "bouncer.audit"]
    assert len(records) == 1
    from pythonjsonlogger.json import JsonFormatter

    from config.settings.logging import LOGGING

    formatter = JsonFormatter(LOGGING["formatters"]["json"]["fmt"], rename_fields=LOGGING["formatters"]["json"]["rename_fields"])
    line = json.loads(formatter.format(records[0]))
    assert line["action"] == "token_issued"
    assert line["user_id"] == user.pk
    assert line["logger"] == "bouncer.audit"
    assert PASSWORD not in formatter.format(records[0])


def test_unknown_action_is_refused_by_the_database(user):
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.create(action="made_up", created_at=timezone.now(), user=user)


def test_admin_audit_log_is_read_only(admin_client, user):
    session_client(user)
    event = AuditEvent.objects.first()
    assert admin_client.get("/admin/audit/auditevent/").status_code == 200
    assert admin_client.get("/admin/audit/auditevent/add/").status_code == 403
    response = admin_client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"action": "logout"})
    assert response.status_code == 403
    assert admin_client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk, action=AuditAction.LOGIN_SUCCEEDED).exists()


def test_token_revoked_from_admin_is_audited(admin_client, user):
    token_client(user)
    from bouncer.tokens.opaque.models import DeviceToken

    token = DeviceToken.objects.get()
    response = admin_client.post(f"/admin/tokens/devicetoken/{token.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not DeviceToken.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_REVOKED, user=user).exists()


def test_admin_audit_log_cannot_be_changed_by_a_superuser_any_way(admin_client, admin_user, user):
    """No add, change or delete for a superuser: not the bulk delete action, not a forged POST."""
    session_client(user)
    event = AuditEvent.objects.first()
    before = list(AuditEvent.objects.order_by("pk").values_list("pk", "action", "user_id", "created_at"))
    changelist = admin_client.get("/admin/audit/auditevent/")
    assert changelist.status_code == 200
    assert "delete_selected" not in changelist.content.decode()  # no action to pick
    # The bulk delete action, posted by hand (with its confirmation step too).
    for data in ({"action": "delete_selected", "_selected_action": [event.pk]},
                 {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
                 {"action": "delete_selected", "select_across": "1", "index": "0", "post": "yes"}):
        response = admin_client.post("/admin/audit/auditevent/", data)
        assert response.status_code in (200, 302)
    # The change page shows the event read-only; posting to it changes nothing.
    page = admin_client.get(f"/admin/audit/auditevent/{event.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html and '<select name="action"' not in html and 'id="id_action"' not in html
    for data in ({"action": "logout", "username": "mallory", "_save": "Save"}, {"_continue": "1", "user": admin_user.pk}):
        assert admin_client.post(f"/admin/audit/auditevent/{event.pk}/change/", data).status_code == 403
    assert admin_client.post("/admin/audit/auditevent/add/", {"action": "logout", "created_at_0": "2020-01-01"}).status_code == 403
    assert admin_client.get(f"/admin/audit/auditevent/{event.pk}/delete/").status_code == 403
    assert admin_client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert list(AuditEvent.objects.order_by("pk").values_list("pk", "action", "user_id", "created_at")) == before
