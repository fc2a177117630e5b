"""Sending to a channel and recording the outcome on it (ok, or failing with the reason and time)."""

from __future__ import annotations

from datetime import datetime

from notifications import apprise_urls
from notifications.apprise_urls import SendResult
from notifications.models import NotificationChannel
from notifications.render import test_message


def record_outcome(channel: NotificationChannel, result: SendResult, now: datetime) -> None:
    """One UPDATE, outside any transaction held across the send."""
    if result.ok:
        NotificationChannel.objects.filter(pk=channel.pk).update(
            status=NotificationChannel.Status.OK, last_success_at=now
        )
    else:
        NotificationChannel.objects.filter(pk=channel.pk).update(
            status=NotificationChannel.Status.FAILING, last_failure=result.reason[:500], last_failure_at=now
        )


def send_to(channel: NotificationChannel, title: str, body: str, now: datetime) -> SendResult:
    result = apprise_urls.send(channel.plain_url(), title, body)
    record_outcome(channel, result, now)
    return result


def send_test(channel: NotificationChannel, now: datetime) -> SendResult:
    title, body = test_message(channel.language, channel.name)
    return send_to(channel, title, body, now)
