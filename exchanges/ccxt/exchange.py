"""CcxtExchange: the Exchange protocol over any CCXT exchange, Binance spot first-class.

Money rides on three promises:
- Never send an order twice. Each order carries the engine's client order id (Binance `newClientOrderId`, others
  CCXT's `clientOrderId`). Orders are never retried. When the answer to an order is lost (timeout, network error,
  "execution status unknown"), the order is looked up by its client id for a while, since Binance may not show it
  at once; found, its state is returned, not found, RequestTimeout tells the engine to reconcile.
- Never send an order the exchange will reject for precision. Prices and amounts are aligned to the market's
  tick and step (buys round down, sells up, amounts down), formatted by CCXT's price_to_precision /
  amount_to_precision, and checked against min/max amount, price range and min notional before sending; the error
  names the symbol, the value and the limit.
- Never get the user's IP banned: see exchanges.ccxt.ratelimit and exchanges.ccxt.limits.

Reads (price, order, open orders, balance) are retried with backoff and jitter on retryable errors.
"""

from __future__ import annotations

import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

from exchanges.backoff import Backoff, retry_read
from exchanges.base import (
    Balance,
    BelowMinimum,
    ExchangeError,
    FatalExchangeError,
    InvalidOrder,
    MarketRules,
    NetworkError,
    OrderNotFound,
    OrderRequest,
    OrderState,
    OrderType,
    RateLimitExceeded,
    RequestTimeout,
    RetryableError,
    Side,
    Trade,
    place_each,
    plain_number,
)
from exchanges.ccxt.client import MARKETS_TTL, ensure_markets
from exchanges.ccxt.errors import ClockSkew, classify
from exchanges.ccxt.orders import (
    balances_from_ccxt,
    candle_from_ccxt,
    check_client_order_id,
    dec,
    market_rules_from_ccxt,
    order_state_from_ccxt,
    trade_from_ccxt,
)
from exchanges.paper.feeds import Candle

logger = logging.getLogger(__name__)
T = TypeVar("T")

LOOKUP_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0)  # after a lost answer to an order: ~8 s for it to show up
TRADES_CACHE_SIZE = 1024


class CcxtExchange:
    def __init__(
        self,
        client: Any,
        *,
        testnet: bool = False,
        backoff: Backoff | None = None,
        lookup_delays: Sequence[float] = LOOKUP_DELAYS,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        markets_ttl: float = MARKETS_TTL,
        fetch_trades: bool = True,
    ) -> None:
        self.client = client
        self.exchange_id: str = client.id
        self.testnet = testnet
        self.backoff = backoff or Backoff()
        self.lookup_delays = tuple(lookup_delays)
        self.sleep = sleep
        self.rng = rng or random.Random()  # noqa: S311 (jitter)
        self.markets_ttl = markets_ttl
        has = client.has
        # Trades or totals, decided once per exchange (see _order_trades).
        self.fetch_trades = fetch_trades and bool(has.get("fetchOrderTrades") or has.get("fetchMyTrades"))
        # An order the exchange has not answered for may show up late; reconcile waits this long before `lost`.
        self.order_visibility_delay = timedelta(seconds=max(15.0, 2 * sum(self.lookup_delays)))
        self._rules: dict[str, MarketRules] = {}
        self._rules_of: Any = None
        self._trades: OrderedDict[tuple[str, Decimal], tuple[Trade, ...]] = OrderedDict()
        self._secrets = tuple(s for s in (client.apiKey, client.secret, client.password) if s)

    @property
    def is_binance(self) -> bool:
        return self.exchange_id == "binance"

    # --- markets ---
    def load_markets(self) -> None:
        self.call(lambda: ensure_markets(self.client, testnet=self.testnet, ttl=self.markets_ttl))

    def market(self, symbol: str) -> MarketRules:
        self._retry(self.load_markets)
        if self._rules_of is not self.client.aresbot_markets:  # a refresh brought new rules
            self._rules, self._rules_of = {}, self.client.aresbot_markets
        found = self._rules.get(symbol)
        if found is None:
            market = self.client.markets.get(symbol)
            if market is None:
                raise FatalExchangeError(f"{self.exchange_id} has no market {symbol!r}")
            found = self._rules[symbol] = market_rules_from_ccxt(market, self.client.precisionMode)
        return found

    def timeframes(self) -> frozenset[str]:
        """The candle intervals the exchange offers ("1m", "1h" …), as CCXT names them."""
        return frozenset(self.client.timeframes or {})

    # --- reads ---
    def fetch_candles(self, symbol: str, timeframe: str, limit: int) -> list[Candle]:
        """The latest `limit` candles of `symbol`, oldest first; the last one is still forming."""
        self._retry(self.load_markets)
        rows = self._retry(lambda: self.call(lambda: self.client.fetch_ohlcv(symbol, timeframe, limit=limit)))
        return [candle_from_ccxt(row) for row in rows]

    def fetch_price(self, symbol: str) -> Decimal:
        def read() -> Decimal:
            ticker = self.call(lambda: self.client.fetch_ticker(symbol))
            price = dec(ticker.get("last")) or dec(ticker.get("close"))
            if price is None or price <= 0:
                raise NetworkError(f"{self.exchange_id} gave no last price for {symbol}")
            return price

        return self._retry(read)

    def fetch_prices(self, symbols: Sequence[str]) -> dict[str, Decimal]:
        """The last price of each symbol, in one request where the exchange lists many tickers at once (an engine
        host's engines share it, trading/runtime/prices.py); a symbol without a price is left out."""
        wanted = list(symbols)
        if len(wanted) == 1 or not self.client.has.get("fetchTickers"):
            return {symbol: self.fetch_price(symbol) for symbol in wanted}
        tickers = self._retry(lambda: self.call(lambda: self.client.fetch_tickers(wanted)))
        prices = {}
        for symbol in wanted:
            ticker = tickers.get(symbol) or {}
            price = dec(ticker.get("last")) or dec(ticker.get("close"))
            if price is not None and price > 0:
                prices[symbol] = price
        return prices

    def fetch_balance(self) -> dict[str, Balance]:
        """Non-zero balances only: Binance lists every asset it has, almost all at zero."""
        raw = self._retry(lambda: self.call(lambda: self.client.fetch_balance()))
        return balances_from_ccxt(raw)

    def fetch_open_orders(self, symbol: str) -> list[OrderState]:
        raws = self._retry(lambda: self.call(lambda: self.client.fetch_open_orders(symbol)))
        return [self._state(raw) for raw in raws]

    def fetch_order(
        self, symbol: str, *, client_order_id: str | None = None, exchange_order_id: str | None = None
    ) -> OrderState:
        if client_order_id is None and exchange_order_id is None:
            raise ValueError("give client_order_id or exchange_order_id")
        return self._retry(lambda: self._fetch_order(symbol, client_order_id, exchange_order_id))

    def _fetch_order(self, symbol: str, client_order_id: str | None, exchange_order_id: str | None) -> OrderState:
        if client_order_id is None:
            raw = self.call(lambda: self.client.fetch_order(exchange_order_id, symbol))
            return self._state(raw)
        if self.is_binance:
            params = {"origClientOrderId": client_order_id}
            raw = self.call(lambda: self.client.fetch_order(exchange_order_id or "", symbol, params))
            return self._state(raw, client_order_id)
        return self._find_by_client_id(symbol, client_order_id)

    def _find_by_client_id(self, symbol: str, client_order_id: str) -> OrderState:
        """Other exchanges: CCXT's clientOrderId param where the exchange honours it, else a search."""
        has = self.client.has
        if has.get("fetchOrder"):
            try:
                raw = self.call(lambda: self.client.fetch_order(None, symbol, {"clientOrderId": client_order_id}))
            except (OrderNotFound, InvalidOrder):
                raw = None
            if raw and raw.get("clientOrderId") == client_order_id:
                return self._state(raw, client_order_id)
        searches = [lambda: self.client.fetch_open_orders(symbol)]
        if has.get("fetchClosedOrders"):
            searches.append(lambda: self.client.fetch_closed_orders(symbol))
        elif has.get("fetchOrders"):
            searches.append(lambda: self.client.fetch_orders(symbol))
        for search in searches:
            for raw in self.call(search):
                if raw.get("clientOrderId") == client_order_id:
                    return self._state(raw, client_order_id)
        raise OrderNotFound(f"{self.exchange_id}: no order {client_order_id} on {symbol}")

    # --- orders ---
    def place_order(self, request: OrderRequest) -> OrderState:
        amount, price = self.prepare_order(request)
        key = "newClientOrderId" if self.is_binance else "clientOrderId"
        params = {key: request.client_order_id}
        try:
            raw = self.call(
                lambda: self.client.create_order(
                    request.symbol, request.type.value, request.side.value, amount, price, params
                )
            )
        except InvalidOrder as exc:
            if "Duplicate order sent" not in str(exc):
                raise
            # The exchange already has an order under this id: that order is the answer, not a second one.
            return self.fetch_order(request.symbol, client_order_id=request.client_order_id)
        except RetryableError as exc:
            if isinstance(exc, RateLimitExceeded | ClockSkew):
                raise  # refused before it took effect
            return self._resolve_lost_answer(request, exc)
        return self._state(raw, request.client_order_id)

    def place_orders(self, requests: Sequence[OrderRequest]) -> list[OrderState | ExchangeError]:
        return place_each(self, requests)

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        if self.is_binance:
            params = {"origClientOrderId": client_order_id}
            raw = self.call(lambda: self.client.cancel_order("", symbol, params))
            return self._state(raw, client_order_id)
        state = self.fetch_order(symbol, client_order_id=client_order_id)
        if not state.is_open:
            raise OrderNotFound(f"{self.exchange_id}: order {client_order_id} is not open ({state.status})")
        raw = self.call(lambda: self.client.cancel_order(state.exchange_order_id, symbol))
        if raw.get("status") and raw.get("amount") is not None:
            return self._state(raw, client_order_id)
        return self.fetch_order(symbol, client_order_id=client_order_id)

    def prepare_order(self, request: OrderRequest) -> tuple[str, str | None]:
        """(amount, price) as they will be sent: aligned, formatted by CCXT, within the market's limits — or the
        OrderRejected that says why not, naming the symbol, the value and the limit."""
        check_client_order_id(self.exchange_id, request.client_order_id)
        symbol = request.symbol
        rules = self.market(symbol)
        amount = rules.amount_down(request.amount)
        if amount <= 0:
            raise BelowMinimum(
                f"{symbol}: amount {plain_number(request.amount)} rounds to 0 at the step size "
                f"{plain_number(rules.step_size)} {rules.base}"
            )
        price: Decimal | None = None
        if request.type is OrderType.LIMIT:
            if request.price is None or request.price <= 0:
                raise InvalidOrder(f"{symbol}: a limit order needs a positive price")
            # Off-tick prices round in the trader's favour: a buy never pays more, a sell never takes less.
            price = rules.price_down(request.price) if request.side is Side.BUY else rules.price_up(request.price)
        refusal = rules.refusal(price, amount)
        if refusal is not None:
            raise type(refusal)(f"{symbol}: {refusal}")
        amount_text = self.call(lambda: self.client.amount_to_precision(symbol, format(amount, "f")))
        price_text = None
        if price is not None:
            price_text = self.call(lambda: self.client.price_to_precision(symbol, format(price, "f")))
        if Decimal(amount_text) != amount or (price is not None and Decimal(str(price_text)) != price):
            # The rules and CCXT's formatting disagree: refuse rather than send numbers nobody checked.
            raise InvalidOrder(
                f"{symbol}: {amount:f} @ {price} formats as {amount_text} @ {price_text}; precision mismatch"
            )
        return amount_text, price_text

    def _resolve_lost_answer(self, request: OrderRequest, cause: RetryableError) -> OrderState:
        """The order may or may not exist: look it up by client id, never send it again."""
        logger.warning(
            "%s: answer to order %s lost (%s); looking it up", self.exchange_id, request.client_order_id, cause
        )
        last: ExchangeError = cause
        for delay in self.lookup_delays:
            self.sleep(delay)
            try:
                return self._fetch_order(request.symbol, request.client_order_id, None)
            except (OrderNotFound, RetryableError) as exc:
                last = exc
        raise RequestTimeout(
            f"order {request.client_order_id} ({request.symbol}): outcome unknown after {cause}; not visible by "
            f"client id after {len(self.lookup_delays)} lookups over {sum(self.lookup_delays):g} s ({last}). "
            "Reconcile before sending it again."
        )

    # --- machinery ---
    def _state(self, raw: Any, client_order_id: str | None = None) -> OrderState:
        state = order_state_from_ccxt(raw, client_order_id=client_order_id)
        if state.filled > 0 and self.fetch_trades:
            state = order_state_from_ccxt(raw, client_order_id=client_order_id, trades=self._order_trades(raw, state))
        return state

    def _order_trades(self, raw: Any, state: OrderState) -> tuple[Trade, ...]:
        """The order's executions; fetched once per (order, filled amount), as they cost weight (Binance: 20).

        With trades on, an order with fills always comes with its trades, never with totals only: the engine
        books totals under other ids than trades, so mixing the two for one order would book its fills twice.
        Failing to get them is therefore an error (retryable), not an empty list.
        """
        key = (state.exchange_order_id, state.filled)
        cached = self._trades.get(key)
        if cached is not None:
            return cached
        listed = raw.get("trades") or self.call(lambda: self._fetch_order_trades(state))
        trades = tuple(trade_from_ccxt(t, f"{state.exchange_order_id}-{i}") for i, t in enumerate(listed, 1))
        if sum((t.amount for t in trades), Decimal(0)) == state.filled:
            # Incomplete lists (the trade list can lag the order's status) are not cached: the next look gets more.
            self._trades[key] = trades
            while len(self._trades) > TRADES_CACHE_SIZE:
                self._trades.popitem(last=False)
        return trades

    def _fetch_order_trades(self, state: OrderState) -> list[Any]:
        if self.client.has.get("fetchOrderTrades"):
            return list(self.client.fetch_order_trades(state.exchange_order_id, state.symbol))
        mine = self.client.fetch_my_trades(state.symbol)
        return [t for t in mine if str(t.get("order")) == state.exchange_order_id]

    def call(self, action: Callable[[], T]) -> T:
        """Run one CCXT call; its errors come out as the core's classes, scrubbed of credentials."""
        try:
            return action()
        except ExchangeError:
            raise
        except Exception as exc:
            error = classify(exc, exchange_id=self.exchange_id, secrets=self._secrets)
            if isinstance(error, ClockSkew):
                self._resync_clock()
            raise error from None

    def _resync_clock(self) -> None:
        self.client.options["adjustForTimeDifference"] = True
        try:
            self.client.load_time_difference()
        except Exception as exc:  # the next request reports the real problem
            logger.warning("%s: clock resync failed: %s", self.exchange_id, classify(exc, secrets=self._secrets))

    def _retry(self, read: Callable[[], T]) -> T:
        return retry_read(read, backoff=self.backoff, sleep=self.sleep, rng=self.rng)
