"""CCXT structures (markets, orders, trades, balances) turned into the core's records, exactly, in Decimal.

CCXT hands numbers over as floats it parsed from the exchange's decimal strings; `repr` of such a float is the
shortest string that reads back to it, which is the exchange's string for every tick, step and price an exchange
publishes (they have far fewer than 15 significant digits). Where Binance's raw strings are at hand they are used
directly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import ccxt

from exchanges.base import (
    ZERO,
    Balance,
    FatalExchangeError,
    InvalidOrder,
    MarketRules,
    OrderState,
    OrderStatus,
    OrderType,
    PriceBand,
    Side,
    Trade,
)
from exchanges.paper.feeds import Candle

DEFAULT_FEE = Decimal("0.001")

# The exchange's own rule for client order ids. An id outside it is refused here rather than shortened, because a
# shortened id would no longer find the order the journal wrote down.
CLIENT_ID_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "binance": (re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$"), "1 to 36 characters of A-Z a-z 0-9 . : / _ -"),
    "okx": (re.compile(r"^[A-Za-z0-9]{1,32}$"), "1 to 32 letters and digits"),
    "bybit": (re.compile(r"^[A-Za-z0-9_-]{1,36}$"), "1 to 36 characters of A-Z a-z 0-9 _ -"),
    "kucoin": (re.compile(r"^[A-Za-z0-9_-]{1,40}$"), "1 to 40 characters of A-Z a-z 0-9 _ -"),
}
GENERIC_CLIENT_ID = (re.compile(r"^[A-Za-z0-9._:/-]{1,32}$"), "1 to 32 characters of A-Z a-z 0-9 . _ : / -")


def check_client_order_id(exchange_id: str, client_order_id: str) -> None:
    pattern, allowed = CLIENT_ID_RULES.get(exchange_id, GENERIC_CLIENT_ID)
    if not pattern.match(client_order_id):
        raise InvalidOrder(f"client order id {client_order_id!r} is not valid on {exchange_id}: use {allowed}")


def dec(value: Any, default: Decimal | None = None) -> Decimal | None:
    """A CCXT number (float, int, str or None) as an exact Decimal."""
    if value is None or value == "":
        return default
    text = repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, float) and text.endswith(".0"):
        text = text[:-2]  # 30000.0 → 30000: the exchange's own string for a whole number
    try:
        result = Decimal(text)
    except InvalidOperation:
        return default
    return result if result.is_finite() else default


def _req(value: Any, what: str) -> Decimal:
    result = dec(value)
    if result is None:
        raise FatalExchangeError(f"the exchange gave no {what}")
    return result


def _filters(market: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Binance's raw filters of a market by filterType (CCXT keeps them in `info`); empty for other exchanges."""
    info = market.get("info")
    filters = info.get("filters") if isinstance(info, Mapping) else None
    if not isinstance(filters, list):
        return {}
    return {str(f["filterType"]): f for f in filters if isinstance(f, Mapping) and "filterType" in f}


def _bands(filters: Mapping[str, Mapping[str, Any]]) -> tuple[PriceBand | None, PriceBand | None]:
    """(buy band, sell band) from PERCENT_PRICE_BY_SIDE (bid/ask multipliers) or PERCENT_PRICE (both sides)."""
    by_side = filters.get("PERCENT_PRICE_BY_SIDE")
    if by_side is not None:
        minutes = int(by_side.get("avgPriceMins") or 0)
        bid = (dec(by_side.get("bidMultiplierDown"), ZERO), dec(by_side.get("bidMultiplierUp"), ZERO))
        ask = (dec(by_side.get("askMultiplierDown"), ZERO), dec(by_side.get("askMultiplierUp"), ZERO))
        return (
            PriceBand(bid[0] or ZERO, bid[1] or ZERO, minutes, "PERCENT_PRICE_BY_SIDE"),
            PriceBand(ask[0] or ZERO, ask[1] or ZERO, minutes, "PERCENT_PRICE_BY_SIDE"),
        )
    both = filters.get("PERCENT_PRICE")
    if both is not None:
        band = PriceBand(
            dec(both.get("multiplierDown"), ZERO) or ZERO,
            dec(both.get("multiplierUp"), ZERO) or ZERO,
            int(both.get("avgPriceMins") or 0),
        )
        return band, band
    return None, None


def open_order_cap(market: Mapping[str, Any]) -> int:
    """Binance's MAX_NUM_ORDERS of a CCXT market: open orders per symbol and account (0: none stated)."""
    return int((_filters(market).get("MAX_NUM_ORDERS") or {}).get("maxNumOrders") or 0)


def market_rules_from_ccxt(market: Mapping[str, Any], precision_mode: int = ccxt.TICK_SIZE) -> MarketRules:
    """MarketRules from a CCXT unified market: tick, step, minimums and maximums from its unified limits; the
    price band, open-order cap and maximum position from Binance's raw filters, which CCXT does not unify."""
    symbol = str(market["symbol"])
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}

    def step(value: Any, what: str) -> Decimal:
        if precision_mode == ccxt.TICK_SIZE:
            found = dec(value)
        elif precision_mode == ccxt.DECIMAL_PLACES and value is not None:
            found = Decimal(1).scaleb(-int(value))
        else:
            raise FatalExchangeError(f"{symbol}: significant-digit precision is not supported")
        if found is None or found <= 0:
            raise FatalExchangeError(f"{symbol}: the exchange states no {what} precision")
        return found

    tick = step(precision.get("price"), "price")
    lot = step(precision.get("amount"), "amount")
    amount_limits = limits.get("amount") or {}
    price_limits = limits.get("price") or {}
    cost_limits = limits.get("cost") or {}
    market_limits = limits.get("market") or {}
    filters = _filters(market)
    buy_band, sell_band = _bands(filters)
    # Binance's own strings where present: CCXT's float keeps 15-16 digits, and a maxQty can have more.
    market_lot = filters.get("MARKET_LOT_SIZE") or {}
    return MarketRules(
        symbol=symbol,
        base=str(market["base"]),
        quote=str(market["quote"]),
        tick_size=tick,
        step_size=lot,
        min_amount=max(dec(amount_limits.get("min"), ZERO) or ZERO, lot),
        min_notional=dec(cost_limits.get("min"), ZERO) or ZERO,
        maker_fee=dec(market.get("maker"), DEFAULT_FEE) or ZERO,
        taker_fee=dec(market.get("taker"), DEFAULT_FEE) or ZERO,
        min_price=dec(price_limits.get("min"), ZERO) or ZERO,
        max_price=dec(price_limits.get("max"), ZERO) or ZERO,
        max_amount=dec(amount_limits.get("max"), ZERO) or ZERO,
        max_notional=dec(cost_limits.get("max"), ZERO) or ZERO,
        market_min_amount=dec(market_lot.get("minQty", market_limits.get("min")), ZERO) or ZERO,
        market_max_amount=dec(market_lot.get("maxQty", market_limits.get("max")), ZERO) or ZERO,
        buy_band=buy_band,
        sell_band=sell_band,
        max_open_orders=open_order_cap(market),
        max_position=dec((filters.get("MAX_POSITION") or {}).get("maxPosition"), ZERO) or ZERO,
    )


_STATUS = {
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "expired": OrderStatus.CANCELED,
    "rejected": OrderStatus.REJECTED,
}


def _when(ms: Any) -> datetime | None:
    return datetime.fromtimestamp(int(ms) / 1000, UTC) if isinstance(ms, int | float) and ms > 0 else None


def trade_from_ccxt(raw: Mapping[str, Any], fallback_id: str) -> Trade:
    fee = raw.get("fee") or {}
    return Trade(
        trade_id=str(raw.get("id") or fallback_id),
        price=_req(raw.get("price"), "trade price"),
        amount=_req(raw.get("amount"), "trade amount"),
        fee=dec(fee.get("cost"), ZERO) or ZERO,
        fee_currency=str(fee.get("currency") or ""),
        timestamp=_when(raw.get("timestamp")) or datetime.now(UTC),
    )


def candle_from_ccxt(row: Any) -> Candle:
    """A CCXT OHLCV row [ms, open, high, low, close, volume] as a Candle (a missing volume is 0)."""
    if not isinstance(row, list | tuple) or len(row) < 5:
        raise FatalExchangeError(f"the exchange gave a malformed candle: {row!r}")
    opened = _when(row[0])
    if opened is None:
        raise FatalExchangeError(f"the exchange gave a candle without a time: {row!r}")
    open_, high, low, close = (_req(value, "candle price") for value in row[1:5])
    volume = dec(row[5], ZERO) if len(row) > 5 else ZERO
    return Candle(opened, open_, high, low, close, volume or ZERO)


def order_state_from_ccxt(
    raw: Mapping[str, Any], *, client_order_id: str | None = None, trades: tuple[Trade, ...] = ()
) -> OrderState:
    """The core's OrderState of a CCXT order. `client_order_id` overrides the parsed one: Binance's cancel answer
    carries the cancel request's own id in clientOrderId and the order's in origClientOrderId."""
    info = raw.get("info") if isinstance(raw.get("info"), Mapping) else {}
    assert isinstance(info, Mapping)
    # Binance's raw strings when present: exact, and cummulativeQuoteQty gives the true average.
    amount = dec(info.get("origQty")) or _req(raw.get("amount"), "order amount")
    filled = dec(info.get("executedQty")) or dec(raw.get("filled"), ZERO) or ZERO
    cost = dec(info.get("cummulativeQuoteQty")) or dec(raw.get("cost"))
    price = dec(info.get("price")) if "price" in info else dec(raw.get("price"))
    order_type = OrderType.MARKET if raw.get("type") == "market" else OrderType.LIMIT
    if order_type is OrderType.MARKET or price == ZERO:
        price = None
    status = _STATUS.get(str(raw.get("status")), OrderStatus.OPEN)
    if status is OrderStatus.OPEN and filled > 0:
        status = OrderStatus.PARTIALLY_FILLED
    average = cost / filled if cost and filled else dec(raw.get("average"))
    fee, fee_currency = _fees(trades, raw)
    return OrderState(
        client_order_id=client_order_id or str(raw.get("clientOrderId") or ""),
        exchange_order_id=str(raw.get("id") or ""),
        symbol=str(raw.get("symbol")),
        side=Side(str(raw.get("side")).lower()),
        type=order_type,
        price=price,
        amount=amount,
        filled=filled,
        status=status,
        fee=fee,
        fee_currency=fee_currency,
        average_price=average,
        trades=trades,
        updated_at=_when(raw.get("lastUpdateTimestamp") or raw.get("lastTradeTimestamp") or raw.get("timestamp")),
    )


def _fees(trades: tuple[Trade, ...], raw: Mapping[str, Any]) -> tuple[Decimal, str]:
    """The order's fee in one currency: its trades' when they agree (BNB-paid fees are reported per trade)."""
    currencies = {t.fee_currency for t in trades if t.fee}
    if len(currencies) == 1:
        currency = currencies.pop()
        return sum((t.fee for t in trades if t.fee_currency == currency), ZERO), currency
    fee = raw.get("fee") or {}
    return dec(fee.get("cost"), ZERO) or ZERO, str(fee.get("currency") or "")


def balances_from_ccxt(raw: Mapping[str, Any]) -> dict[str, Balance]:
    """Non-zero balances, free and locked, from a CCXT balance (Binance's raw strings when present)."""
    result: dict[str, Balance] = {}
    info = raw.get("info")
    rows = info.get("balances") if isinstance(info, Mapping) else None
    if isinstance(rows, list) and rows and isinstance(rows[0], Mapping) and "asset" in rows[0]:
        for row in rows:
            balance = Balance(dec(row.get("free"), ZERO) or ZERO, dec(row.get("locked"), ZERO) or ZERO)
            if balance.total:
                result[str(row["asset"])] = balance
        return result
    free, used = raw.get("free") or {}, raw.get("used") or {}
    for asset in set(free) | set(used):
        balance = Balance(dec(free.get(asset), ZERO) or ZERO, dec(used.get(asset), ZERO) or ZERO)
        if balance.total:
            result[str(asset)] = balance
    return result
