"""POST /api/strategies/preview: what a strategy would do now, computed by the engine itself (trading.core.preview)
at the price and by the rules of the account's market (trading.runtime.marketdata). Nothing is saved or sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from exchanges.base import plain_number
from exchanges.paper.store import book_key
from strategies.api.serializers import StrategyPreviewRequestSerializer
from strategies.runtime_source import engine_config_for
from trading.api.serializers import GridPreviewSerializer
from trading.core.preview import GridPreview, preview_grid
from trading.runtime.marketdata import MarketNow, market_now


def now() -> datetime:
    """This module's one clock seam."""
    return timezone.now()


def _text(value: Any) -> str | None:
    return None if value is None else plain_number(value)


def preview_view(symbol: str, market: MarketNow, preview: GridPreview) -> dict[str, Any]:
    rules = market.rules
    return {
        "symbol": symbol,
        "origin": market.origin,
        "price": plain_number(preview.price),
        "fee_rate": plain_number(preview.fee_rate),
        "market": {
            "tick_size": plain_number(rules.tick_size),
            "step_size": plain_number(rules.step_size),
            "min_amount": plain_number(rules.min_amount),
            "min_notional": plain_number(rules.min_notional),
            "maker_fee": plain_number(rules.maker_fee),
            "taker_fee": plain_number(rules.taker_fee),
            "max_open_orders": rules.max_open_orders,
        },
        "levels": [
            {
                "level": level.level,
                "price": plain_number(level.price),
                "amount": plain_number(level.amount),
                "quote": plain_number(level.quote),
                "quote_needed": plain_number(level.quote_needed),
                "take_profit_price": _text(level.take_profit_price),
                "take_profit_amount": plain_number(level.take_profit_amount),
                "cycle_profit": _text(level.cycle_profit),
                "stop_loss_below": _text(level.stop_loss_below),
                "problem": level.problem,
            }
            for level in preview.levels
        ],
        "total_quote": plain_number(preview.total_quote),
        "total_quote_needed": plain_number(preview.total_quote_needed),
        "skipped": list(preview.skipped),
        "paused": list(preview.paused),
        "notes": list(preview.notes),
    }


class StrategyPreviewAction:
    """The preview action of StrategyViewSet."""

    get_serializer_context: Any

    @extend_schema(request=StrategyPreviewRequestSerializer, responses={200: GridPreviewSerializer})
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def preview(self, request: Request) -> Response:
        """What a strategy with these parameters would do now, before it is saved or started: the buys its engine
        would place at the current price (price, amount and quote of each, and in total), each one's take-profit
        and the profit of one full cycle after both fees, where the stop-loss would sell, and the levels it would
        skip or hold back, with the reasons. Checked as creating the strategy is (a message per field)."""
        serializer = StrategyPreviewRequestSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        strategy = serializer.preview_strategy()
        account = strategy.account
        moment = now()
        market = market_now(
            account.exchange,
            testnet=account.testnet,
            prices=account.paper_prices(),
            book=book_key(account.pk),
            symbol=strategy.symbol,
            now=moment,
        )
        preview = preview_grid(engine_config_for(strategy), market.rules, market.price, moment)
        return Response(GridPreviewSerializer(preview_view(strategy.symbol, market, preview)).data)
