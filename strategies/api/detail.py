"""What a strategy's detail page reads besides its settings and status: its orders and its lots.

The actions join StrategyViewSet (strategies/api/views.py), so each answers only for the caller's strategies:
someone else's id is a 404 like a missing one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import redis
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from aresbot.api import MAX_PAGE, Pagination, query_int
from aresbot.redis import get_redis
from exchanges.base import plain_number
from exchanges.paper.store import book_key
from strategies.models import Strategy
from trading import lots
from trading.api.filters import ORDER_STATUS_GROUPS, OrderFilter
from trading.api.serializers import CandleChartSerializer, OrderSerializer, PositionsSerializer
from trading.models import Order
from trading.runtime import coordination as co
from trading.runtime.candles import (
    DEFAULT_CANDLES,
    DEFAULT_TIMEFRAME,
    MAX_CANDLES,
    TIMEFRAMES,
    CandleChart,
    candles_for,
)

PAGE_PARAMETERS = [
    OpenApiParameter("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, description="A page number."),
    OpenApiParameter(
        "page_size",
        {"type": "integer", "minimum": 1, "maximum": Pagination.max_page_size, "default": 50},
        description="Results per page.",
    ),
]


def now() -> datetime:
    """This module's one clock seam (a test sets the moment a replay has reached)."""
    return timezone.now()


def engine_price(strategy_id: int) -> lots.Price | None:
    """The price the strategy's engine last reported (its status hash), or None: no engine reports, or Redis does not
    answer (the lots are still worth showing, valued at the last trade instead)."""
    try:
        raw = co.read_status(get_redis(), strategy_id)
    except redis.RedisError:
        return None
    try:
        price = Decimal(raw.get("current_price") or "")
    except InvalidOperation:
        return None
    if not price.is_finite() or price <= 0:
        return None
    try:
        at: datetime | None = datetime.fromtimestamp(float(raw.get("updated_at", "")), UTC)
    except (ValueError, OverflowError, OSError):
        at = None
    return lots.Price(price, "status", at)


def _chart(symbol: str, chart: CandleChart) -> dict[str, object]:
    return {
        "symbol": symbol,
        "timeframe": chart.timeframe,
        "origin": chart.source,
        "candles": [
            {
                "time": c.time,
                "market_time": c.candle.open_time,
                "open": plain_number(c.candle.open),
                "high": plain_number(c.candle.high),
                "low": plain_number(c.candle.low),
                "close": plain_number(c.candle.close),
                "volume": plain_number(c.candle.volume),
            }
            for c in chart.candles
        ],
    }


class StrategyRecordActions:
    """Actions of StrategyViewSet over the trade record of one strategy."""

    get_object: Any
    paginate_queryset: Any
    get_paginated_response: Any
    paginator: Any

    @extend_schema(
        responses={200: OrderSerializer(many=True)},
        parameters=[
            OpenApiParameter(
                "status",
                str,
                enum=list(ORDER_STATUS_GROUPS),
                description="open (the default): resting on the exchange or being sent; closed: filled, canceled, "
                "rejected or lost; all; or one status.",
            )
        ],
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def orders(self, request: Request, pk: str | None = None) -> Response:
        """The strategy's orders, newest first: by default the open ones (resting on the exchange or being sent);
        `status=closed`, `all` or one status for the others."""
        strategy: Strategy = self.get_object()
        # The filter is applied here rather than by the viewset's backend, whose filters are the strategies'.
        filterset = OrderFilter(request.query_params, Order.objects.filter(strategy=strategy).select_related("parent"))
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        page = self.paginate_queryset(filterset.qs)
        return self.get_paginated_response(OrderSerializer(page, many=True).data)

    @extend_schema(responses={200: PositionsSerializer}, parameters=PAGE_PARAMETERS, filters=False)
    @action(detail=True, methods=["get"], filter_backends=[])
    def positions(self, request: Request, pk: str | None = None) -> Response:
        """The strategy's lots: every open one with its age, its take-profit and stop prices and its unrealized
        PnL at the current price (the one its engine reports, else its latest trade's), and the closed ones with
        their result, latest first, a page at a time."""
        strategy: Strategy = self.get_object()
        price = engine_price(strategy.pk) or lots.last_fill_price(strategy.pk)
        limits = lots.RiskLimits(strategy.stop_loss_pct, strategy.time_stop_hours)
        open_rows = lots.open_lots(strategy.pk, price=price, limits=limits, now=now())
        paginator = self.paginator
        page = paginator.paginate_queryset(lots.closed_lots(strategy.pk), request, view=self)
        unrealized = [Decimal(str(row["unrealized_pnl"])) for row in open_rows if row["unrealized_pnl"] is not None]
        body = {
            "symbol": strategy.symbol,
            "current_price": plain_number(price.value) if price else None,
            "price_from": price.source if price else None,
            "price_at": price.at if price else None,
            "unrealized_pnl": plain_number(sum(unrealized, Decimal(0))) if price else None,
            "open": open_rows,
            "closed": {
                "count": paginator.page.paginator.count,
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
                "results": [lots.closed_lot_row(lot) for lot in page],
            },
        }
        return Response(PositionsSerializer(body).data)

    @extend_schema(
        responses={200: CandleChartSerializer},
        parameters=[
            OpenApiParameter(
                "timeframe",
                str,
                enum=list(TIMEFRAMES),
                description=f"The length of a candle; by default {DEFAULT_TIMEFRAME}, or a replayed data set's own "
                "interval when that is longer.",
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_CANDLES, "default": DEFAULT_CANDLES},
                description="How many of the latest candles.",
            ),
        ],
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def candles(self, request: Request, pk: str | None = None) -> Response:
        """The latest candles of the strategy's market, for its price chart: from its account's exchange (kept a few
        seconds), or for a paper account from its price source (a replay: the candles played so far).

        503 names the exchange when it cannot be reached."""
        strategy: Strategy = self.get_object()
        timeframe = request.query_params.get("timeframe", "").strip() or None
        if timeframe is not None and timeframe not in TIMEFRAMES:
            raise ValidationError({"timeframe": [f"Must be one of {', '.join(TIMEFRAMES)}."]})
        limit = query_int(request, "limit", 1, MAX_CANDLES) or DEFAULT_CANDLES
        account = strategy.account
        chart = candles_for(
            account.exchange,
            testnet=account.testnet,
            prices=account.paper_prices(),
            book=book_key(account.pk),
            symbol=strategy.symbol,
            timeframe=timeframe,
            limit=limit,
            now=now(),
        )
        return Response(CandleChartSerializer(_chart(strategy.symbol, chart)).data)
