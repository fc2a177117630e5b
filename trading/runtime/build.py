"""Assembling a strategy's engine from its spec: config, exchange, journal. The Django side of the core.

The runtime (an RQ job) does: engine = build_engine(spec, status_board=…); engine.start(); then
engine.tick() every config.loop_interval seconds; engine.stop() on the stop signal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from exchanges.base import Exchange
from exchanges.clock import Clock, SystemClock
from trading.core.engine import TradingEngine
from trading.core.types import StatusBoard
from trading.journal import OrmJournal
from trading.runtime.factory import build_exchange
from trading.runtime.spec import StrategySpec


def default_feed_spec(symbol: str) -> dict[str, Any]:
    """A paper account follows Binance's live public price unless its book already names another feed."""
    return {"kind": "ticker", "exchange": "binance", "symbol": symbol}


def build_engine(
    spec: StrategySpec,
    *,
    status_board: StatusBoard,
    clock: Clock | None = None,
    feed_spec: Mapping[str, Any] | None = None,
    wrap_exchange: Callable[[Exchange], Exchange] | None = None,
) -> TradingEngine:
    """The engine of a strategy on its account's exchange: CCXT for a real exchange, the paper book otherwise.

    `wrap_exchange` lets the runtime put its lease fence between the engine and the exchange."""
    clock = clock or SystemClock()
    exchange = build_exchange(
        spec.account, clock=clock, feed_specs={spec.symbol: feed_spec or default_feed_spec(spec.symbol)}
    )
    return TradingEngine(
        spec.config,
        exchange=wrap_exchange(exchange) if wrap_exchange else exchange,
        journal=OrmJournal(spec.strategy_id),
        status_board=status_board,
        clock=clock,
        tz=ZoneInfo(settings.TIME_ZONE),
    )
