"""What a grid would do now, before it runs: the engine's own first tick, on an exchange that only takes notes.

`preview_grid` starts a TradingEngine with the proposed parameters and the market's rules, on an empty journal and
an exchange that answers the price it is given, accepts every order and fills none. The engine's first tick then
decides the ladder exactly as a strategy started at that price decides it — the grid's levels and their
rounding (GridStrategy), the levels it skips and why, the ones that wait for a rule of the moment (price band,
open-order cap, maximum position) and the risk limits (max positions) — so the preview cannot disagree with what
trades. Nothing is sent anywhere and nothing is stored.

For each buy it adds what one full cycle would bring: the lot bought at the level (the buy fee taken from the base
received at the market's higher fee rate, as Binance does without BNB: the engine's worst case), its take-profit
as the engine would place it (GridStrategy.take_profit), and the PnL booked when that sells (the trade record's
formula, net of both fees; the rest below one step stays as dust and is not counted), and where the price stop
would sell it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from exchanges.base import (
    ZERO,
    Balance,
    ExchangeError,
    MarketRules,
    OrderNotFound,
    OrderRequest,
    OrderState,
    OrderStatus,
    Side,
)
from trading.core.engine import TradingEngine
from trading.core.memory import InMemoryJournal, InMemoryStatusBoard
from trading.core.types import PRICE_QUANTUM, EngineConfig, Lot

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class PreviewLevel:
    level: int  # 1 = nearest the price
    price: Decimal
    amount: Decimal
    quote: Decimal  # price × amount
    quote_needed: Decimal  # what the engine waits for in free quote: the notional and the buy fee at the higher rate
    take_profit_price: Decimal | None  # None: the lot could not be given one (the reason is in `problem`)
    take_profit_amount: Decimal
    cycle_profit: Decimal | None  # realized PnL of the lot when its take-profit sells, net of both fees
    stop_loss_below: Decimal | None  # the price stop sells the lot when the price falls below this
    problem: str | None = None


@dataclass(frozen=True)
class GridPreview:
    price: Decimal
    fee_rate: Decimal  # the higher of the market's maker and taker fees: the rate the figures assume
    levels: tuple[PreviewLevel, ...]
    skipped: tuple[str, ...]  # levels not placed, or waiting, each with its reason (as the status says)
    paused: tuple[str, ...]  # why buys stop short (max positions)
    notes: tuple[str, ...]

    @property
    def total_quote(self) -> Decimal:
        return sum((level.quote for level in self.levels), ZERO)

    @property
    def total_quote_needed(self) -> Decimal:
        return sum((level.quote_needed for level in self.levels), ZERO)


class _NoteTakingExchange:
    """An exchange at one price that accepts every order, fills none and holds nothing."""

    order_visibility_delay = timedelta(0)

    def __init__(self, rules: MarketRules, price: Decimal, now: datetime) -> None:
        self.rules = rules
        self.price = price
        self.now = now
        self.placed: list[OrderRequest] = []

    def market(self, symbol: str) -> MarketRules:
        return self.rules

    def fetch_price(self, symbol: str) -> Decimal:
        return self.price

    def place_order(self, request: OrderRequest) -> OrderState:
        self.placed.append(request)
        return self._state(request)

    def place_orders(self, requests: Sequence[OrderRequest]) -> list[OrderState | ExchangeError]:
        return [self.place_order(request) for request in requests]

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        raise OrderNotFound(f"order {client_order_id} was only previewed")

    def fetch_order(
        self, symbol: str, *, client_order_id: str | None = None, exchange_order_id: str | None = None
    ) -> OrderState:
        for request in self.placed:
            if request.client_order_id in (client_order_id, exchange_order_id):
                return self._state(request)
        raise OrderNotFound(f"order {client_order_id or exchange_order_id} was not previewed")

    def fetch_open_orders(self, symbol: str) -> list[OrderState]:
        return [self._state(request) for request in self.placed]

    def fetch_balance(self) -> dict[str, Balance]:
        return {}

    def _state(self, request: OrderRequest) -> OrderState:
        return OrderState(
            client_order_id=request.client_order_id,
            exchange_order_id=request.client_order_id,
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            price=request.price,
            amount=request.amount,
            filled=ZERO,
            status=OrderStatus.OPEN,
            updated_at=self.now,
        )


class _Clock:
    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


def preview_grid(config: EngineConfig, rules: MarketRules, price: Decimal, now: datetime) -> GridPreview:
    """The buys a strategy with `config` started at `price` would place on a market with `rules`, and each one's
    cycle (see the module docstring)."""
    exchange = _NoteTakingExchange(rules, price, now)
    board = InMemoryStatusBoard()
    engine = TradingEngine(config, exchange=exchange, journal=InMemoryJournal(), status_board=board, clock=_Clock(now))
    status = engine.start()
    indexes = {level.price: level.index for level in engine.grid.ladder(price).levels}
    fee = max(rules.maker_fee, rules.taker_fee)
    levels = tuple(
        _level(engine, fee, indexes.get(order.price or ZERO, 0), order, now)
        for order in exchange.placed
        if order.price is not None
    )
    return GridPreview(price, fee, levels, status.skipped_levels, status.paused, status.notes)


def _level(engine: TradingEngine, fee: Decimal, index: int, order: OrderRequest, now: datetime) -> PreviewLevel:
    assert order.price is not None  # the ladder's buys are limit orders
    price, amount = order.price, order.amount
    # The lot its fill opens, the buy fee taken from the base received (the engine's worst case).
    kept = amount * (1 - fee)
    lot = Lot(
        entry_client_order_id=order.client_order_id,
        level_price=price,
        quantity=kept,
        entry_cost=price * kept,
        entry_fee_quote=price * (amount - kept),
        opened_at=now,
    )
    target, sold, problem = engine.grid.take_profit(lot)
    profit = None
    if problem is None:
        proceeds = target * sold
        # Realized PnL as the trade record books it: proceeds less the sell fee, less the cost of what was sold.
        profit = (proceeds * (1 - fee) - (lot.entry_cost + lot.entry_fee_quote) * sold / kept).quantize(PRICE_QUANTUM)
    stop = None
    stop_loss = engine.config.stop_loss_pct
    if stop_loss is not None:
        stop = (lot.entry_price * (1 - stop_loss / HUNDRED)).quantize(PRICE_QUANTUM)
    return PreviewLevel(
        level=index,
        price=price,
        amount=amount,
        quote=price * amount,
        quote_needed=engine.gate.need(Side.BUY, price, amount),
        take_profit_price=None if problem else target,
        take_profit_amount=ZERO if problem else sold,
        cycle_profit=profit,
        stop_loss_below=stop,
        problem=problem,
    )
