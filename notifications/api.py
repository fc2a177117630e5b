"""/api/notifications/channels: a user's apprise channels. The URL is write-only; answers show only its mask."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from accounts.crypto import CredentialKeyError
from aresbot.serializers import ValidatedModelSerializer
from aresbot.viewsets import OwnedQuerysetMixin
from notifications import delivery
from notifications.apprise_urls import MAX_URL_LENGTH, masked_url
from notifications.kinds import CHANNEL_KINDS
from notifications.models import NotificationChannel


@extend_schema_field({"type": "string", "nullable": True})
class _MaskedUrl(serializers.Field):
    def __init__(self) -> None:
        super().__init__(source="*", read_only=True, allow_null=True, help_text="The URL's scheme and last characters.")

    def to_representation(self, channel: NotificationChannel) -> str | None:
        try:
            return masked_url(channel.plain_url())
        except CredentialKeyError:
            return None


class NotificationChannelSerializer(ValidatedModelSerializer):
    """A notification channel: an apprise URL (write-only, shown masked), the kinds it receives, its language and
    whether its last delivery failed (and why)."""

    url = serializers.CharField(
        write_only=True,
        required=False,
        trim_whitespace=False,
        max_length=MAX_URL_LENGTH,
        style={"input_type": "password"},
        help_text="An apprise URL (tgram://…, discord://…, ntfy://…, mailto://…, json://…). Write-only: omit it in "
        "an edit to keep the stored one.",
    )
    url_masked = _MaskedUrl()
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=CHANNEL_KINDS),
        required=False,
        help_text="Event kinds it receives, and daily_summary.",
    )

    class Meta:
        model = NotificationChannel
        fields = [
            "id",
            "name",
            "url",
            "url_masked",
            "kinds",
            "language",
            "enabled",
            "summary_hour",
            "status",
            "last_failure",
            "last_failure_at",
            "last_success_at",
            "created_at",
        ]
        read_only_fields = ["status", "last_failure", "last_failure_at", "last_success_at", "created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None and not attrs.get("url"):
            raise serializers.ValidationError({"url": ["This field is required."]})
        return super().validate(attrs)


class ChannelTestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True)


@method_decorator(sensitive_post_parameters("url"), name="dispatch")
class NotificationChannelViewSet(OwnedQuerysetMixin, viewsets.ModelViewSet):
    """Your notification channels (Telegram, Discord, Slack, e-mail, ntfy, webhooks … as apprise URLs).

    The URL is write-only: answers show only its scheme and last characters. A channel whose delivery fails is
    marked `failing` with the reason; the next successful delivery marks it `ok` again.
    """

    model = NotificationChannel
    serializer_class = NotificationChannelSerializer
    schema_errors = {"*": (503,)}

    def perform_create(self, serializer: BaseSerializer[NotificationChannel]) -> None:
        serializer.save(owner=self.request.user)

    @extend_schema(request=None, responses={200: ChannelTestResultSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        """Send a test message now, synchronously (a few seconds at most: the channel's connect and read timeouts
        are 5 s each). Answers 200 either way; `ok` says whether the service took it, `reason` why not. The
        channel's status is updated as for any delivery."""
        channel = self.get_object()
        result = delivery.send_test(channel, now=timezone.now())
        return Response(ChannelTestResultSerializer({"ok": result.ok, "reason": result.reason}).data)
