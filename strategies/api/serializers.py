from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.models import ExchangeAccount
from aresbot.serializers import ValidatedModelSerializer
from strategies.models import Strategy


class OwnAccountField(serializers.PrimaryKeyRelatedField):
    """Only the caller's accounts resolve; someone else's id reads as 'does not exist', revealing nothing."""

    def get_queryset(self) -> Any:
        return ExchangeAccount.objects.filter(owner=self.context["request"].user)


class StrategySerializer(ValidatedModelSerializer):
    account = OwnAccountField()

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
