"""Assembling a strategy's engine from the database: config, exchange, journal. The Django side of the core.

The runtime (an RQ job) does: engine = build_engine(strategy, status_board=…); engine.start(); then
engine.tick() every config.loop_interval seconds; engine.stop() on the stop signal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from exchanges.clock import Clock, SystemClock
from exchanges.paper_store import paper_exchange_for_account
from strategies.models import Strategy
from trading.core_types import EngineConfig, StatusBoard
from trading.engine import TradingEngine
from trading.journal import OrmJournal


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
) -> TradingEngine:
    """The engine of `strategy` on its account's exchange (paper only, until the CCXT adapter lands)."""
    account = strategy.account
    if not account.is_paper:
        raise NotImplementedError(f"account {account.name!r} is on {account.exchange}: only paper accounts run yet")
    clock = clock or SystemClock()
    exchange = paper_exchange_for_account(
        account.pk,
        account.paper_balances,
        clock=clock,
        feed_specs={strategy.symbol: feed_spec or default_feed_spec(strategy)},
    )
    return TradingEngine(
        engine_config_for(strategy),
        exchange=exchange,
        journal=OrmJournal(strategy.pk),
        status_board=status_board,
        clock=clock,
        tz=ZoneInfo(settings.TIME_ZONE),
    )
