from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models
from rest_framework import serializers

from accounts.models import ExchangeAccount
from aresbot.serializers import ValidatedModelSerializer
from strategies.models import BOUNDS, Strategy


# Only the caller's accounts resolve; someone else's id reads as 'does not exist', revealing nothing.
class OwnAccountField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self) -> Any:
        return ExchangeAccount.objects.filter(owner=self.context["request"].user)


def _range(name: str) -> dict[str, Any]:
    """The serializer field's range, from the one table of them (BOUNDS), with the model's message: the schema
    shows it, and a value outside it is refused with the same words as the model would use."""
    bound = BOUNDS[name]
    integral = isinstance(Strategy._meta.get_field(name), models.IntegerField)
    low, high = (int(bound.low), int(bound.high)) if integral else (bound.low, bound.high)
    message = bound.message().replace("%", "%%")  # DRF fills the message in with %-formatting
    return {"min_value": low, "max_value": high, "error_messages": {"min_value": message, "max_value": message}}


class StrategySerializer(ValidatedModelSerializer):
    """A grid strategy: the market it trades on which account, its grid of buy orders and its risk limits."""

    account = OwnAccountField(help_text="The id of one of your exchange accounts.")

    class Meta:
        model = Strategy
        fields = [
            "id",
            "name",
            "account",
            "symbol",
            "grid_levels",
            "buy_offset_pct",
            "sell_offset_pct",
            "order_size_quote",
            "reprice_threshold_pct",
            "loop_interval",
            "max_positions",
            "stop_loss_pct",
            "time_stop_hours",
            "daily_loss_limit",
            "max_consecutive_losses",
            "cooldown_minutes",
            "desired_state",
            "created_at",
            "updated_at",
        ]
        # desired_state changes only through start/stop, which also coordinate the workers.
        read_only_fields = ["id", "desired_state", "created_at", "updated_at"]
        extra_kwargs = {name: _range(name) for name in BOUNDS}


# The fields a preview reads: the strategy's market, account and parameters, not its name or state.
PREVIEW_FIELDS = [
    f for f in StrategySerializer.Meta.fields if f not in ("id", "name", "desired_state", "created_at", "updated_at")
]


class StrategyPreviewRequestSerializer(StrategySerializer):
    """Proposed parameters of a strategy, checked as creating it would check them (the name excepted)."""

    class Meta(StrategySerializer.Meta):
        fields = PREVIEW_FIELDS
        read_only_fields: list[str] = []

    def _cleaned(self, attrs: Mapping[str, Any], unreadable: Iterable[str]) -> tuple[models.Model, dict[str, Any]]:
        instance, errors = super()._cleaned(attrs, unreadable)
        errors.pop("name", None)  # a preview has no name yet
        return instance, errors

    def preview_strategy(self) -> Strategy:
        """The strategy as proposed, unsaved, with the model's defaults for what the request left out."""
        return Strategy(owner=self.context["request"].user, **self.validated_data)
