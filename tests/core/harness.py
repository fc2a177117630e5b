"""A paper exchange, an in-memory journal and an engine on a manual clock: the pure core, wired for tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from exchanges.base import OrderState, OrderStatus, Side
from exchanges.clock import ManualClock
from exchanges.markets import market_rules
from exchanges.paper.book import InMemoryPaperStore
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.faults import FaultInjector
from exchanges.paper.feeds import ManualFeed
from trading.core.engine import TradingEngine
from trading.core.memory import InMemoryJournal, InMemoryStatusBoard
from trading.core.types import EngineConfig, EngineStatus, Journal, Lot, OrderRecord

D = Decimal
START = datetime(2022, 5, 5, tzinfo=UTC)

DEFAULTS: dict[str, Any] = {
    "strategy_id": 7,
    "symbol": "BTC/USDT",
    "grid_levels": 3,
    "buy_offset_pct": D(1),
    "sell_offset_pct": D(1),
    "order_size_quote": D(20),
    "reprice_threshold_pct": D(1),
    "max_positions": 10,
}


def make_config(**overrides: Any) -> EngineConfig:
    return EngineConfig(**{**DEFAULTS, **overrides})


class Harness:
    def __init__(
        self,
        price: str = "30000",
        *,
        balances: dict[str, str] | None = None,
        faults: FaultInjector | None = None,
        journal: Journal | None = None,
        tz: str = "UTC",
        start: datetime = START,
        buy_fee_in_base: bool = False,
        market: dict[str, Any] | None = None,
        balance_check_every: int = 1,
        **config: Any,
    ) -> None:
        self.balance_check_every = balance_check_every
        self.config = make_config(**config)
        self.clock = ManualClock(start)
        self.feed = ManualFeed(self.clock, price)
        self.store = InMemoryPaperStore(balances or {"USDT": "10000"})
        self.faults = faults
        symbol = self.config.symbol
        markets = {symbol: replace(market_rules(symbol), **market)} if market else None
        self.exchange = PaperExchange(
            self.store,
            feeds={symbol: self.feed},
            markets=markets,
            clock=self.clock,
            faults=faults,
            buy_fee_in_base=buy_fee_in_base,
        )
        self.journal: Any = journal if journal is not None else InMemoryJournal()
        self.board = InMemoryStatusBoard()
        self.tz = ZoneInfo(tz)
        self.engine = self.new_engine()

    def new_engine(self) -> TradingEngine:
        return TradingEngine(
            self.config,
            exchange=self.exchange,
            journal=self.journal,
            status_board=self.board,
            clock=self.clock,
            tz=self.tz,
            balance_check_every=self.balance_check_every,
        )

    def start(self) -> EngineStatus:
        return self.engine.start()

    def step(self, price: str | Decimal, seconds: float = 1) -> EngineStatus:
        self.clock.advance(seconds)
        self.feed.set(price)
        return self.engine.tick()

    def restart(self) -> EngineStatus:
        self.engine = self.new_engine()
        return self.engine.start()

    def reconfigure(self, **changes: Any) -> None:
        self.config = replace(self.config, **changes)

    # --- views ---
    def open_orders(self, side: Side | None = None) -> list[OrderState]:
        with self.store.session() as book:
            orders = [o.state() for o in book.open_orders.values()]
        return sorted((o for o in orders if side is None or o.side is side), key=lambda o: o.price or 0)

    def buy_prices(self) -> list[Decimal]:
        return sorted((o.price for o in self.open_orders(Side.BUY) if o.price is not None), reverse=True)

    def lots(self) -> list[Lot]:
        return list(self.journal.lots.values())

    def open_lots(self) -> list[Lot]:
        return [lot for lot in self.lots() if lot.is_open]

    def closed_lots(self) -> list[Lot]:
        return [lot for lot in self.lots() if not lot.is_open]

    def orders(self, status: OrderStatus | None = None) -> list[OrderRecord]:
        return [o for o in self.journal.orders.values() if status is None or o.status is status]

    def balance(self, asset: str) -> Decimal:
        with self.store.session() as book:
            return book.balance(asset).total
