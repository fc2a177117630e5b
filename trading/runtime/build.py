"""Assembling a strategy's engine from the database: config, exchange, journal. The Django side of the core.

The runtime (an RQ job) does: engine = build_engine(strategy, status_board=…); engine.start(); then
engine.tick() every config.loop_interval seconds; engine.stop() on the stop signal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from exchanges.base import Exchange
from exchanges.clock import Clock, SystemClock
from strategies.models import Strategy
from trading.core.engine import TradingEngine
from trading.core.types import EngineConfig, StatusBoard
from trading.journal import OrmJournal
from trading.runtime.factory import build_exchange


def engine_config_for(strategy: Strategy) -> EngineConfig:
    return EngineConfig(
        strategy_id=strategy.pk,
        symbol=strategy.symbol,
        grid_levels=strategy.grid_levels,
        buy_offset_pct=strategy.buy_offset_pct,
        sell_offset_pct=strategy.sell_offset_pct,
        order_size_quote=strategy.order_size_quote,
        reprice_threshold_pct=strategy.reprice_threshold_pct,
        loop_interval=strategy.loop_interval,
        max_positions=strategy.max_positions,
        stop_loss_pct=strategy.stop_loss_pct,
        time_stop_hours=strategy.time_stop_hours,
        daily_loss_limit=strategy.daily_loss_limit,
        max_consecutive_losses=strategy.max_consecutive_losses,
        cooldown_minutes=strategy.cooldown_minutes,
    )


def default_feed_spec(strategy: Strategy) -> dict[str, Any]:
    """A paper account follows Binance's live public price unless its book already names another feed."""
    return {"kind": "ticker", "exchange": "binance", "symbol": strategy.symbol}


def build_engine(
    strategy: Strategy,
    *,
    status_board: StatusBoard,
    clock: Clock | None = None,
    feed_spec: Mapping[str, Any] | None = None,
    wrap_exchange: Callable[[Exchange], Exchange] | None = None,
) -> TradingEngine:
    """The engine of `strategy` on its account's exchange: CCXT for a real exchange, the paper book otherwise.

    `wrap_exchange` lets the runtime put its lease fence between the engine and the exchange."""
    clock = clock or SystemClock()
    exchange = build_exchange(
        strategy.account, clock=clock, feed_specs={strategy.symbol: feed_spec or default_feed_spec(strategy)}
    )
    return TradingEngine(
        engine_config_for(strategy),
        exchange=wrap_exchange(exchange) if wrap_exchange else exchange,
        journal=OrmJournal(strategy.pk),
        status_board=status_board,
        clock=clock,
        tz=ZoneInfo(settings.TIME_ZONE),
    )
