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
from trading.runtime.factory import build_exchange, price_feed_spec
from trading.runtime.metered import MeteredExchange
from trading.runtime.spec import StrategySpec


def build_engine(
    spec: StrategySpec,
    *,
    status_board: StatusBoard,
    clock: Clock | None = None,
    feed_spec: Mapping[str, Any] | None = None,
    wrap_exchange: Callable[[Exchange], Exchange] | None = None,
) -> TradingEngine:
    """The engine of a strategy on its account's exchange: CCXT for a real exchange, the paper book otherwise.

    A paper book prices the symbol from the account's price source unless it already names a feed for it, or
    `feed_spec` names another (manage.py run_strategy --feed). `wrap_exchange` lets the runtime put its lease
    fence between the engine and the exchange; the orders are counted for /metrics inside the fence, so an order
    the fence stops is not counted as sent."""
    clock = clock or SystemClock()
    wanted = feed_spec or price_feed_spec(spec.account, spec.symbol, clock.now())
    exchange: Exchange = MeteredExchange(
        build_exchange(spec.account, clock=clock, feed_specs={spec.symbol: wanted}), spec.account.exchange
    )
    return TradingEngine(
        spec.config,
        exchange=wrap_exchange(exchange) if wrap_exchange else exchange,
        journal=OrmJournal(spec.strategy_id),
        status_board=status_board,
        clock=clock,
        tz=ZoneInfo(settings.TIME_ZONE),
    )
