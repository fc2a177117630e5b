"""A user's notification channels: apprise URLs, encrypted at rest like exchange API keys (accounts/fields.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from accounts.fields import EncryptedTextField, reveal
from notifications.apprise_urls import MAX_URL_LENGTH, service_for
from notifications.kinds import CHANNEL_KINDS, DEFAULT_KINDS
from trading.models import StrategyEvent


def _default_kinds() -> list[str]:
    return list(DEFAULT_KINDS)


class NotificationChannel(models.Model):
    class Language(models.TextChoices):
        EN = "en", "English"
        ZH_HANS = "zh-hans", "简体中文"

    class Status(models.TextChoices):
        OK = "ok", "OK"
        FAILING = "failing", "Failing"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_channels")
    name = models.CharField(max_length=100)
    url = EncryptedTextField(help_text="An apprise URL; stored encrypted, shown masked.")
    kinds = models.JSONField(default=_default_kinds, help_text="The event kinds (and daily_summary) it receives.")
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.EN)
    enabled = models.BooleanField(default=True)
    summary_hour = models.PositiveSmallIntegerField(
        default=20,
        validators=[MinValueValidator(0), MaxValueValidator(23)],
        help_text="The hour (0–23, in TIME_ZONE) the daily summary is sent, when daily_summary is among the kinds.",
    )
    last_summary_on = models.DateField(null=True, blank=True, help_text="The day whose summary went out last.")
    # The newest event id when the channel was added: it receives what comes after, never the backlog (by id, not by
    # the events' times, which are the engine's clock's).
    after_event_id = models.BigIntegerField(default=0, editable=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OK)
    last_failure = models.CharField(max_length=500, blank=True, default="")
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="notification_channel_unique_name")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding and not self.after_event_id:
            self.after_event_id = StrategyEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        kinds: Any = self.kinds
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            errors["kinds"] = "Must be a list of event kinds."
        else:
            unknown = sorted(set(kinds) - set(CHANNEL_KINDS))
            if unknown:
                errors["kinds"] = f"Unknown kind(s) {', '.join(unknown)}; allowed: {', '.join(CHANNEL_KINDS)}."
            else:
                self.kinds = [k for k in CHANNEL_KINDS if k in kinds]  # one order, no repeats
        if isinstance(self.url, str):  # a newly typed URL (a loaded one is sealed and was checked when saved)
            if not self.url:
                errors["url"] = "This field is required."
            elif len(self.url) > MAX_URL_LENGTH:
                errors["url"] = f"Must be at most {MAX_URL_LENGTH} characters."
            elif service_for(self.url) is None:
                # Never echo the URL: it holds the channel's token.
                errors["url"] = (
                    "Not an apprise URL apprise can use (e.g. tgram://bottoken/chat_id, discord://id/token, "
                    "json://host/path); see the apprise documentation for your service."
                )
        if errors:
            raise ValidationError(errors)

    def plain_url(self) -> str:
        return reveal(self.url)


class OutboxMessage(models.Model):
    """One event owed to one channel. Unique per (event, channel): a pass that reads an event twice adds nothing, so
    each event is delivered to a channel once (at least once across crashes: see notifications/outbox.py)."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        DEAD = "dead", "Given up"

    event = models.ForeignKey("trading.StrategyEvent", on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="outbox")
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "channel"], name="outbox_event_channel_unique")]
        indexes = [models.Index(fields=["channel", "state", "next_attempt_at"], name="outbox_due_idx")]

    def __str__(self) -> str:
        return f"event {self.event_id} → channel {self.channel_id} ({self.state})"


class FanOutMark(models.Model):
    """The highest event id the fan-out pass has read (one row)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_event_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"events read up to {self.last_event_id}"
