"""The Exchange protocol the trading engine talks to, and the errors that tell the engine what to do next.

Plain Python, no Django: the live runtime, the paper exchange and the backtester share it. Money is `Decimal`.
Error classes are grouped by the engine's reaction, not by the exchange's wording:

- `RetryableError` (network, exchange down, timeout, rate limit): the request may or may not have taken effect;
  the engine does not repeat it but reconciles by client order id before it acts again.
- `OrderRejected` (invalid order, below min notional …): the exchange refused this order and nothing changed.
- `InsufficientFunds`: refused for lack of free balance; the engine holds back the orders that spend that asset
  until a balance read finds them covered (trading.core.gate).
- `FatalExchangeError` (authentication, permission): retrying cannot help; the engine stops with the error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Protocol

ZERO = Decimal(0)


def plain_number(value: Decimal) -> str:
    """A number as a person writes it, exactly: 8.7, not 8.7000 or 8.7E+0; 0.00000933, not 9.33E-6."""
    return format(value.normalize(), "f") if value else "0"


# The order enums, defined once: the core trades with them, the trade-record models' choices are made from them.
class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class OrderStatus(StrEnum):
    """An order's status, on the exchange and in the journal (the Order model's choices are made from it)."""

    PENDING = "pending"  # journaled, not yet acknowledged by the exchange: only in the journal
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    LOST = "lost"  # journaled before sending, and the exchange never received it: only in the journal


ACTIVE_STATUSES = frozenset({OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED})


# --- errors ------
class ExchangeError(Exception):
    """Base of every error an Exchange raises."""


class RetryableError(ExchangeError):
    """The outcome is unknown (the request may have reached the exchange): reconcile, never blindly resend."""


class NetworkError(RetryableError):
    pass


class ExchangeUnavailable(NetworkError):
    """The exchange is down (an outage, maintenance): it answers nothing, prices included. The engine waits it out
    as it waits out a network error, and reconciles when the exchange is back."""


class RequestTimeout(RetryableError):
    pass


class RateLimitExceeded(RetryableError):
    pass


class OrderRejected(ExchangeError):
    """The exchange refused this order; no state changed."""


class InvalidOrder(OrderRejected):
    pass


class BelowMinimum(InvalidOrder):
    """Amount below the minimum amount, or price × amount below the minimum notional."""


class InsufficientFunds(OrderRejected):
    pass


class OrderNotFound(ExchangeError):
    """The exchange does not know this order (by client id or exchange id)."""


class OrderNotSent(ExchangeError):
    """In a batch, this request was not attempted because an earlier one failed retryably."""


class FatalExchangeError(ExchangeError):
    """Retrying cannot help: bad credentials, missing permission, unknown market."""


class AuthenticationError(FatalExchangeError):
    pass


class PermissionDenied(FatalExchangeError):
    pass


# --- market rules ------
@dataclass(frozen=True, slots=True)
class PriceBand:
    """How far a limit price may stray from the market's recent price, for one side (Binance PERCENT_PRICE, or
    PERCENT_PRICE_BY_SIDE's bid or ask multipliers): reference × down <= price <= reference × up. Binance's
    reference is the average price of the last `average_minutes` minutes (avgPriceMins; 0: the last price)."""

    down: Decimal
    up: Decimal
    average_minutes: int = 5
    filter: str = "PERCENT_PRICE"


@dataclass(frozen=True, slots=True)
class MarketRules:
    """One market's trading rules, as Binance states them in its filters: PRICE_FILTER, LOT_SIZE, MIN_NOTIONAL
    (or NOTIONAL), MARKET_LOT_SIZE, PERCENT_PRICE (or PERCENT_PRICE_BY_SIDE), MAX_NUM_ORDERS and MAX_POSITION.
    A zero limit (or None) is no limit. The static rules are `refusal`; the ones that depend on the moment (the
    recent price, the open orders, the position) take it as an argument: `price_band_refusal`,
    `open_orders_refusal`, `position_refusal`."""

    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    min_amount: Decimal
    min_notional: Decimal
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    min_price: Decimal = ZERO
    max_price: Decimal = ZERO  # 0: no limit
    max_amount: Decimal = ZERO  # 0: no limit
    max_notional: Decimal = ZERO  # NOTIONAL maxNotional, for limit orders
    market_min_amount: Decimal = ZERO  # MARKET_LOT_SIZE, for market orders (on top of LOT_SIZE)
    market_max_amount: Decimal = ZERO
    buy_band: PriceBand | None = None
    sell_band: PriceBand | None = None
    max_open_orders: int = 0  # MAX_NUM_ORDERS: open orders per symbol and account
    max_position: Decimal = ZERO  # MAX_POSITION: base held + locked + open buys, for buys

    def price_down(self, price: Decimal) -> Decimal:
        """Round down to the tick: a buy never pays more than the grid asked for."""
        return (price / self.tick_size).to_integral_value(ROUND_FLOOR) * self.tick_size

    def price_up(self, price: Decimal) -> Decimal:
        """Round up to the tick: a take-profit never sells below its target."""
        return (price / self.tick_size).to_integral_value(ROUND_CEILING) * self.tick_size

    def amount_down(self, amount: Decimal) -> Decimal:
        """Round down to the step: never order more than the budget or the lot."""
        return (amount / self.step_size).to_integral_value(ROUND_FLOOR) * self.step_size

    def price_outside(self, price: Decimal) -> str | None:
        """Why `price` is outside the market's price range ("below the minimum price 0.01"), or None."""
        if price <= 0 or price < self.min_price:
            return f"below the minimum price {plain_number(self.min_price)}"
        if self.max_price and price > self.max_price:
            return f"above the maximum price {plain_number(self.max_price)}"
        return None

    def refusal(
        self, price: Decimal | None, amount: Decimal, *, price_range: bool = True, market: bool = False
    ) -> OrderRejected | None:
        """The error Binance would refuse an order of `amount` at `price` with, or None when it passes the limits:
        BelowMinimum under the minimum amount or notional, InvalidOrder above the maximum amount or notional or
        (with `price_range`) outside the price range. A `market` order is also held to MARKET_LOT_SIZE, and
        `price`, if given, is the price it is expected to fill at (for the minimum notional); `price` None without
        `market` is a market order with no estimate. The message names the value and the limit."""
        if amount < self.min_amount:
            return BelowMinimum(
                f"amount {plain_number(amount)} is below the minimum amount {plain_number(self.min_amount)} {self.base}"
            )
        if self.max_amount and amount > self.max_amount:
            return InvalidOrder(
                f"amount {plain_number(amount)} is above the maximum amount {plain_number(self.max_amount)} {self.base}"
            )
        market = market or price is None
        if market and amount < self.market_min_amount:
            return BelowMinimum(
                f"amount {plain_number(amount)} is below the minimum market order amount "
                f"{plain_number(self.market_min_amount)} {self.base}"
            )
        if market and self.market_max_amount and amount > self.market_max_amount:
            return InvalidOrder(
                f"amount {plain_number(amount)} is above the maximum market order amount "
                f"{plain_number(self.market_max_amount)} {self.base}"
            )
        if price is None:
            return None
        outside = self.price_outside(price) if price_range and not market else None
        if outside:
            return InvalidOrder(f"price {plain_number(price)} is {outside}")
        notional = price * amount
        if notional < self.min_notional:
            return BelowMinimum(
                f"notional {plain_number(notional)} {self.quote} ({plain_number(amount)} × "
                f"{plain_number(price)}) is below the minimum notional {plain_number(self.min_notional)} {self.quote}"
            )
        if self.max_notional and not market and notional > self.max_notional:
            return InvalidOrder(
                f"notional {plain_number(notional)} {self.quote} ({plain_number(amount)} × "
                f"{plain_number(price)}) is above the maximum notional {plain_number(self.max_notional)} {self.quote}"
            )
        return None

    def check(self, price: Decimal, amount: Decimal) -> str | None:
        """Why Binance would refuse `amount` at `price` for its amount or notional, or None when it passes."""
        refusal = self.refusal(price, amount, price_range=False)
        return str(refusal) if refusal is not None else None

    def check_steps(self, price: Decimal | None, amount: Decimal) -> str | None:
        """Why the exchange would refuse these numbers as unaligned (Binance's PRICE_FILTER/LOT_SIZE failures)."""
        if amount <= 0 or amount % self.step_size:
            return f"amount {amount:f} is not a positive multiple of the step size {self.step_size:f}"
        if price is not None:
            if price <= 0 or price % self.tick_size:
                return f"price {price:f} is not a positive multiple of the tick size {self.tick_size:f}"
            outside = self.price_outside(price)
            if outside:
                return f"price {price:f} is {outside}"
        return None

    def price_band_refusal(self, side: Side, price: Decimal, reference: Decimal) -> str | None:
        """Why a limit `side` order at `price` is outside the price band around `reference` (the market's recent
        price), or None."""
        band = self.buy_band if side is Side.BUY else self.sell_band
        if band is None or reference <= 0:
            return None
        if band.up and price > reference * band.up:
            highest = self.price_down(reference * band.up)
            return (
                f"price {plain_number(price)} is above {plain_number(band.up)} × the recent price "
                f"{plain_number(reference)} ({band.filter}): at most {plain_number(highest)}"
            )
        if price < reference * band.down:
            lowest = self.price_up(reference * band.down)
            return (
                f"price {plain_number(price)} is below {plain_number(band.down)} × the recent price "
                f"{plain_number(reference)} ({band.filter}): at least {plain_number(lowest)}"
            )
        return None

    def open_orders_refusal(self, open_orders: int) -> str | None:
        """Why one more order may not be placed while `open_orders` are open on the symbol, or None."""
        if self.max_open_orders and open_orders >= self.max_open_orders:
            return (
                f"{open_orders} open orders on {self.symbol} reach the exchange's limit of {self.max_open_orders} "
                "per symbol (MAX_NUM_ORDERS)"
            )
        return None

    def position_refusal(self, position: Decimal, amount: Decimal) -> str | None:
        """Why a buy of `amount` may not be placed on a `position` (base held, locked and in open buys), or None."""
        if self.max_position and position + amount > self.max_position:
            return (
                f"position {plain_number(position)} + {plain_number(amount)} {self.base} would exceed the maximum "
                f"position {plain_number(self.max_position)} {self.base} (MAX_POSITION)"
            )
        return None


# --- orders ------
@dataclass(frozen=True, slots=True)
class OrderRequest:
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    amount: Decimal
    price: Decimal | None = None  # None for market orders


@dataclass(frozen=True, slots=True)
class Trade:
    """One execution of an order, as the exchange reports it."""

    trade_id: str
    price: Decimal
    amount: Decimal
    fee: Decimal
    fee_currency: str
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class OrderState:
    """The exchange's view of one order. `trades` lists its executions when the exchange reports them."""

    client_order_id: str
    exchange_order_id: str
    symbol: str
    side: Side
    type: OrderType
    price: Decimal | None
    amount: Decimal
    filled: Decimal
    status: OrderStatus  # OPEN, PARTIALLY_FILLED, FILLED, CANCELED or REJECTED
    fee: Decimal = ZERO
    fee_currency: str = ""
    average_price: Decimal | None = None
    trades: tuple[Trade, ...] = ()
    updated_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


@dataclass(slots=True)
class Balance:
    free: Decimal = ZERO
    locked: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


# --- the protocol ------
class Exchange(Protocol):
    """What the engine needs from an exchange. Every method may raise an ExchangeError subclass.

    `order_visibility_delay`: how long after sending an order the exchange may still answer "unknown order"
    to a lookup by client id (eventual consistency). Reconcile only marks a pending order `lost` once it is
    older than this, so an order still in flight is never written off and placed a second time.
    """

    order_visibility_delay: timedelta

    def market(self, symbol: str) -> MarketRules: ...

    def fetch_price(self, symbol: str) -> Decimal: ...

    def place_order(self, request: OrderRequest) -> OrderState: ...

    def place_orders(self, requests: Sequence[OrderRequest]) -> list[OrderState | ExchangeError]:
        """One result per request, in order. After a RetryableError the remaining requests are not attempted
        and get OrderNotSent, because the caller must reconcile before sending more."""
        ...

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        """Cancel an open order and return its final state; OrderNotFound if it is not open (filled, gone)."""
        ...

    def fetch_order(
        self, symbol: str, *, client_order_id: str | None = None, exchange_order_id: str | None = None
    ) -> OrderState: ...

    def fetch_open_orders(self, symbol: str) -> list[OrderState]: ...

    def fetch_balance(self) -> dict[str, Balance]: ...


def place_each(exchange: Exchange, requests: Sequence[OrderRequest]) -> list[OrderState | ExchangeError]:
    """`place_orders` for exchanges without a batch endpoint: one by one, stopping at the first unknown outcome."""
    results: list[OrderState | ExchangeError] = []
    stopped = False
    for request in requests:
        if stopped:
            results.append(OrderNotSent(f"{request.client_order_id} not sent: an earlier order's outcome is unknown"))
            continue
        try:
            results.append(exchange.place_order(request))
        except RetryableError as exc:
            results.append(exc)
            stopped = True
        except (OrderRejected, OrderNotFound) as exc:
            results.append(exc)
    return results
