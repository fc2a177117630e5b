from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from aresbot.viewsets import OwnedQuerysetMixin
from trading.api.filters import TradeFilter
from trading.api.serializers import TradeSerializer, TradeStatsSerializer
from trading.models import Fill, Position
from trading.stats import trade_stats


class TradeViewSet(OwnedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """The trades (fills) of your strategies, newest first: what was bought and sold, at which price, and the fee.

    Filter by strategy, side, symbol and time (`since`, `until`: ISO 8601).
    """

    model = Fill
    owner_lookup = "strategy__owner"
    serializer_class = TradeSerializer
    filterset_class = TradeFilter

    def owned(self, request_user: Any) -> QuerySet[Fill]:
        return super().owned(request_user).select_related("strategy", "order")

    @extend_schema(responses=TradeStatsSerializer, filters=True)
    @action(detail=False, methods=["get"])
    def stats(self, request: Request) -> Response:
        """Totals over your trades, with the same filters as the list: volume, fees and realized profit per
        currency, wins and losses, and the profit per day (days in the server's TIME_ZONE)."""
        user = request.user
        filterset = TradeFilter(request.query_params, queryset=self.owned(user))
        if not filterset.is_valid():
            return Response(filterset.errors, status=400)
        data = filterset.form.cleaned_data
        positions = Position.objects.filter(strategy__owner_id=user.pk, closed_at__isnull=False)
        if data.get("strategy") is not None:
            positions = positions.filter(strategy_id=data["strategy"])
        if data.get("symbol"):
            positions = positions.filter(strategy__symbol=data["symbol"].strip().upper())
        if data.get("since"):
            positions = positions.filter(closed_at__gte=data["since"])
        if data.get("until"):
            positions = positions.filter(closed_at__lt=data["until"])
        # A side filter narrows the fills; PnL belongs to round trips, so it stays over both sides.
        return Response(TradeStatsSerializer(trade_stats(filterset.qs, positions)).data)
