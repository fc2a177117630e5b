"""Notification channels through the API: the URL encrypted at rest and masked in every read, validation without
sending, isolation, and "send test" reaching a real HTTP receiver on loopback through apprise."""

from __future__ import annotations

import logging

import pytest
from django.db import connection

from notifications.models import NotificationChannel
from tests.factories import make_user
from tests.notifications.receiver import Receiver

TOKEN = "8231234567:AAHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6ut"
TELEGRAM = f"tgram://{TOKEN}/123456789"


def _create(client, **fields):
    return client.post("/api/notifications/channels", {"name": "phone", "url": TELEGRAM, **fields}, format="json")


@pytest.mark.django_db
def test_the_url_is_encrypted_at_rest_and_only_its_mask_is_ever_shown(alice_client, caplog):
    caplog.set_level(logging.DEBUG)
    r = _create(alice_client, kinds=["error", "buy_filled"], language="zh-hans")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["url_masked"] == "tgram://****6789"
    assert "url" not in body
    assert body["kinds"] == ["buy_filled", "error"]
    assert body["language"] == "zh-hans" and body["status"] == "ok"
    for read in (
        alice_client.get("/api/notifications/channels"),
        alice_client.get(f"/api/notifications/channels/{body['id']}"),
    ):
        assert read.status_code == 200
        assert TOKEN not in read.content.decode()
    with connection.cursor() as cursor:
        cursor.execute("SELECT url FROM notifications_notificationchannel")
        (stored,) = cursor.fetchone()
    assert stored.startswith("v1:") and TOKEN not in stored
    assert NotificationChannel.objects.get().plain_url() == TELEGRAM
    assert TOKEN not in caplog.text


@pytest.mark.django_db
def test_a_new_channel_gets_the_default_kinds_and_an_edit_without_url_keeps_it(alice_client):
    r = _create(alice_client)
    assert "daily_summary" in r.json()["kinds"] and "ladder_trailed" not in r.json()["kinds"]
    r = alice_client.patch(f"/api/notifications/channels/{r.json()['id']}", {"name": "renamed"}, format="json")
    assert r.status_code == 200, r.json()
    assert NotificationChannel.objects.get().plain_url() == TELEGRAM


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"url": "nonsense://whatever"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": ""}, "url"),
        ({"url": "json://" + "a" * 2100}, "url"),
        ({"kinds": ["buy_filled", "moon_landing"]}, "kinds"),
        ({"kinds": "error"}, "kinds"),
        ({"language": "fr"}, "language"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_never_echoes_the_url(alice_client, fields, field):
    r = _create(alice_client, **fields)
    assert r.status_code == 400
    assert field in r.json(), r.json()
    assert "whatever" not in r.content.decode()
    assert not NotificationChannel.objects.exists()


@pytest.mark.django_db
def test_a_url_is_required_on_create(alice_client):
    r = alice_client.post("/api/notifications/channels", {"name": "x"}, format="json")
    assert r.status_code == 400 and "url" in r.json()


@pytest.mark.django_db
def test_another_users_channels_are_not_found(alice_client, bob_client):
    channel_id = _create(alice_client).json()["id"]
    assert bob_client.get("/api/notifications/channels").json()["results"] == []
    for call in (bob_client.get, bob_client.delete, bob_client.post):
        path = f"/api/notifications/channels/{channel_id}" + ("/test" if call == bob_client.post else "")
        assert call(path).status_code == 404
    assert NotificationChannel.objects.filter(pk=channel_id).exists()
    assert alice_client.delete(f"/api/notifications/channels/{channel_id}").status_code == 204


@pytest.mark.django_db
def test_send_test_reaches_the_receiver_in_the_channels_language(alice_client, receiver: Receiver):
    r = _create(alice_client, url=receiver.url, language="zh-hans", name="家里")
    r = alice_client.post(f"/api/notifications/channels/{r.json()['id']}/test")
    assert r.status_code == 200
    assert r.json() == {"ok": True, "reason": ""}
    assert len(receiver.bodies) == 1
    assert receiver.bodies[0]["title"] == "AresBot 测试消息"
    assert "家里" in receiver.bodies[0]["message"]
    channel = NotificationChannel.objects.get()
    assert channel.status == "ok" and channel.last_success_at is not None


@pytest.mark.django_db
def test_a_failing_send_test_marks_the_channel_failing_with_a_reason_then_recovers(alice_client, receiver: Receiver):
    channel_id = _create(alice_client, url=receiver.url + "/s3cr3t-path-token").json()["id"]
    receiver.failing = True
    r = alice_client.post(f"/api/notifications/channels/{channel_id}/test")
    assert r.status_code == 200 and r.json()["ok"] is False
    assert r.json()["reason"] and "s3cr3t-path-token" not in r.content.decode()
    channel = NotificationChannel.objects.get()
    assert channel.status == "failing" and channel.last_failure_at is not None
    assert "s3cr3t-path-token" not in channel.last_failure
    assert alice_client.get(f"/api/notifications/channels/{channel_id}").json()["status"] == "failing"
    receiver.failing = False
    assert alice_client.post(f"/api/notifications/channels/{channel_id}/test").json()["ok"] is True
    assert NotificationChannel.objects.get().status == "ok"


@pytest.mark.django_db
def test_an_unreachable_channel_fails_quickly_with_a_reason(alice_client):
    from tests.processes import free_port

    channel_id = _create(alice_client, url=f"json://127.0.0.1:{free_port()}/").json()["id"]
    r = alice_client.post(f"/api/notifications/channels/{channel_id}/test")
    assert r.json()["ok"] is False and "connection" in r.json()["reason"].lower()


@pytest.mark.django_db
def test_the_admin_shows_only_the_mask(admin_client):
    owner = make_user("carol")
    channel = NotificationChannel(owner=owner, name="c", url=TELEGRAM)
    channel.full_clean()
    channel.save()
    for page in (
        "/admin/notifications/notificationchannel/",
        f"/admin/notifications/notificationchannel/{channel.pk}/change/",
    ):
        r = admin_client.get(page)
        assert r.status_code == 200
        assert TOKEN not in r.content.decode()


@pytest.mark.django_db
def test_a_failed_delivery_logs_its_reason_without_the_channels_token(alice_client, receiver: Receiver, caplog):
    from notifications import apprise_urls

    caplog.set_level(logging.DEBUG)
    url = receiver.url + "/" + TOKEN
    receiver.failing = True
    result = apprise_urls.send(url, "t", "b")
    assert not result.ok and "500" in result.reason
    assert TOKEN not in result.reason and TOKEN not in caplog.text


@pytest.mark.django_db
def test_send_test_through_a_form_webhook(alice_client, receiver: Receiver):
    channel_id = _create(alice_client, url=f"form://127.0.0.1:{receiver.port}/hook").json()["id"]
    assert alice_client.post(f"/api/notifications/channels/{channel_id}/test").json()["ok"] is True
    (body,) = receiver.bodies
    assert body["title"] == "AresBot test message" and "phone" in body["message"]
