"""GET /api/strategies/{id}/risk: where a strategy stands against its risk limits now, for its detail page.

The figures come from the engine's own rules (trading.core.risk.RiskManager) over the lots its journal loads on
start (trading.journal.OrmJournal), so the page can never disagree with what the engine decides: the daily loss
used of its limit (days in TIME_ZONE), the run of losing exits against max_consecutive_losses, and when a
cooldown ends. A stopped strategy answers too: these are what its engine would find on start.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from exchanges.base import ZERO, plain_number
from strategies.api import detail
from strategies.models import Strategy
from strategies.runtime_source import engine_config_for
from strategies.status import iso_utc
from trading.core.risk import ExitHistory, RiskManager
from trading.core.types import Role
from trading.journal import OrmJournal


class RiskStateSerializer(serializers.Serializer):
    time_zone = serializers.CharField(help_text="The TIME_ZONE whose day the daily loss limit counts.")
    day_started_at = serializers.DateTimeField(help_text="The start of today in that zone (UTC).")
    realized_today = serializers.CharField(help_text="Realized PnL of the lots closed today, net of fees, in quote.")
    daily_loss_used = serializers.CharField(
        help_text="Today's net realized loss (0 when today gained): what counts against daily_loss_limit."
    )
    daily_loss_limit = serializers.CharField(allow_null=True, help_text="In quote; null: no daily limit.")
    daily_limit_reached = serializers.BooleanField(help_text="New buys pause until the next local midnight.")
    daily_resumes_at = serializers.DateTimeField(
        allow_null=True, help_text="When buys resume after the daily limit (next local midnight); null: not reached."
    )
    consecutive_losses = serializers.IntegerField(help_text="Exits in a row, up to the latest, that lost money.")
    max_consecutive_losses = serializers.IntegerField(allow_null=True, help_text="null: no loss-streak cooldown.")
    cooldown_minutes = serializers.IntegerField()
    cooldown_until = serializers.DateTimeField(
        allow_null=True, help_text="When the loss-streak pause ends (UTC); null when there is none now."
    )
    open_positions = serializers.IntegerField(help_text="Lots held.")
    active_buys = serializers.IntegerField(help_text="Grid buys resting on the exchange or being sent.")
    max_positions = serializers.IntegerField()
    paused = serializers.ListField(
        child=serializers.CharField(), help_text="Why the risk rules pause new buys now, in the engine's words."
    )


def risk_state(strategy: Strategy, now: datetime) -> dict[str, Any]:
    """The strategy's risk figures at `now`, computed as its engine computes them."""
    config = engine_config_for(strategy)
    risk = RiskManager(config, ZoneInfo(settings.TIME_ZONE))
    day_start = risk.day_start(now)
    snapshot = OrmJournal(strategy.pk).load(closed_since=day_start, last_closed=config.max_consecutive_losses or 0)
    # In closing order, as the engine feeds them (ExitHistory's losing run is the tail of that order).
    exits = ExitHistory(risk.tz, sorted(snapshot.closed_lots, key=lambda lot: lot.closed_at or now))
    realized = risk.realized_today(exits, now)
    limit = config.daily_loss_limit
    reached = limit is not None and -realized >= limit
    until = risk.cooldown_until(exits)
    active_buys = sum(1 for o in snapshot.orders if o.role == Role.GRID_BUY)
    return {
        "time_zone": settings.TIME_ZONE,
        "day_started_at": iso_utc(day_start),
        "realized_today": plain_number(realized),
        "daily_loss_used": plain_number(max(-realized, ZERO)),
        "daily_loss_limit": plain_number(limit) if limit is not None else None,
        "daily_limit_reached": reached,
        "daily_resumes_at": iso_utc(day_start + timedelta(days=1)) if reached else None,
        "consecutive_losses": exits.losing_run,
        "max_consecutive_losses": config.max_consecutive_losses,
        "cooldown_minutes": config.cooldown_minutes,
        "cooldown_until": iso_utc(until) if until is not None and now < until else None,
        "open_positions": len(snapshot.lots),
        "active_buys": active_buys,
        "max_positions": config.max_positions,
        "paused": risk.pause_reasons(exits, now),
    }


class StrategyRiskAction:
    """The risk action of StrategyViewSet: only the caller's strategies (someone else's id is a 404)."""

    get_object: Any

    @extend_schema(responses={200: RiskStateSerializer})
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def risk(self, request: Request, pk: str | None = None) -> Response:
        """Where the strategy stands against its risk limits now, by its engine's own rules over its trade record:
        today's realized loss against its daily loss limit (days in TIME_ZONE), its run of losing exits against
        max_consecutive_losses and the end of the cooldown it causes, its lots and resting buys against
        max_positions, and why new buys pause."""
        strategy: Strategy = self.get_object()
        return Response(RiskStateSerializer(risk_state(strategy, detail.now())).data)
