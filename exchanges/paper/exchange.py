"""PaperExchange: a simulated exchange that behaves like a real one, behind the same Exchange protocol.

- Limit orders rest and fill at their limit price, maker fee, when the price path crosses them (a buy when the
  price goes strictly below it, a sell strictly above). A limit order that is marketable when placed fills at
  once at the current price, taker fee, like a taker on a real book.
- Market orders fill at once at the current price moved against the trader by `slippage_pct`, rounded to the
  tick (buys up, sells down), taker fee.
- Fees are charged in the quote currency, rounded down to 8 decimals (Binance's commission precision). With
  `buy_fee_in_base` a buy's fee is taken from the base it receives instead, as Binance does without BNB.
- Balances have free and locked parts. A buy locks price × amount × (1 + the higher fee rate), a sell locks its
  amount; an order needing more than the free balance is refused with InsufficientFunds.
- Orders are checked against every rule of the market that Binance checks: tick, step, min/max amount and
  notional, the market order amounts, the price band around the current price, the open orders per symbol and
  the maximum position (see MarketRules), so that paper trading refuses what Binance refuses.
- Every operation first brings the feeds up to now (`observe`: a live ticker's request, its rate-limit wait) with
  no transaction open, then locks the book, advances matching over the feeds' paths since the book last matched
  (so fills that happen while no engine looks are made, and found later by the engine's reconcile), acts and
  commits: a price source that hangs never holds the account's book, nor the SQLite database.
- While a feed has no price (a gap in replayed candles: the exchange was down) every operation raises
  ExchangeUnavailable and nothing fills, as on the real exchange during that outage.
- Faults (`exchanges.paper.faults`) inject network errors, rate limits, a timeout after the request took effect, and
  partial fills.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TypeVar

from exchanges.base import (
    ZERO,
    Balance,
    ExchangeError,
    InsufficientFunds,
    InvalidOrder,
    MarketRules,
    NetworkError,
    OrderNotFound,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    RateLimitExceeded,
    RequestTimeout,
    Side,
    Trade,
    place_each,
)
from exchanges.clock import Clock
from exchanges.markets import binance_spot_markets
from exchanges.paper.book import PaperBook, PaperOrder, PaperStore
from exchanges.paper.faults import Fault, FaultInjector
from exchanges.paper.feeds import PriceFeed

T = TypeVar("T")
FEE_QUANTUM = Decimal("0.00000001")


def _fee(notional: Decimal, rate: Decimal) -> Decimal:
    return (notional * rate).quantize(FEE_QUANTUM, ROUND_FLOOR)


class PaperExchange:
    def __init__(
        self,
        store: PaperStore,
        *,
        feeds: Mapping[str, PriceFeed],
        clock: Clock,
        markets: Mapping[str, MarketRules] | None = None,
        slippage_pct: Decimal = Decimal("0.05"),
        faults: FaultInjector | None = None,
        buy_fee_in_base: bool = False,
    ) -> None:
        self.store = store
        self.buy_fee_in_base = buy_fee_in_base
        self.feeds = dict(feeds)
        self.clock = clock
        self.markets = dict(markets if markets is not None else binance_spot_markets())  # its own: never the cache
        self.slippage = slippage_pct / 100
        self.faults = faults
        # The paper book answers a lookup the moment it has accepted an order.
        self.order_visibility_delay = timedelta(0)

    # --- the Exchange protocol ---
    def market(self, symbol: str) -> MarketRules:
        try:
            return self.markets[symbol]
        except KeyError:
            raise InvalidOrder(f"paper exchange has no market {symbol!r}") from None

    def fetch_price(self, symbol: str) -> Decimal:
        feed = self._feed(symbol)
        # The price comes from the feed, not the book: the book is only brought up to now on the way. A copy that
        # another process has changed since can only delay that matching (to the next read that checks the book's
        # version, over the same stretch of the path), never change what fills, at what price or time.
        return self._call("fetch_price", lambda book, now: feed.price_at(now), read=True, current=False)

    def place_order(self, request: OrderRequest) -> OrderState:
        return self._call("place_order", lambda book, now: self._place(book, now, request))

    def place_orders(self, requests: Sequence[OrderRequest]) -> list[OrderState | ExchangeError]:
        return place_each(self, requests)

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        return self._call("cancel_order", lambda book, now: self._cancel(book, now, client_order_id))

    def fetch_order(
        self, symbol: str, *, client_order_id: str | None = None, exchange_order_id: str | None = None
    ) -> OrderState:
        if client_order_id is None and exchange_order_id is None:
            raise ValueError("give client_order_id or exchange_order_id")

        def find(book: PaperBook, now: datetime) -> OrderState:
            order = book.find(client_order_id, exchange_order_id)
            if order is None or order.symbol != symbol:
                raise OrderNotFound(f"order {client_order_id or exchange_order_id} does not exist")
            return order.state()

        return self._call("fetch_order", find, read=True)

    def fetch_open_orders(self, symbol: str) -> list[OrderState]:
        return self._call("fetch_open_orders", lambda book, now: list(book.open_states(symbol)), read=True)

    def fetch_balance(self) -> dict[str, Balance]:
        return self._call(
            "fetch_balance",
            lambda book, now: {a: Balance(b.free, b.locked) for a, b in book.balances.items()},
            read=True,
        )

    # --- machinery ---
    def _feed(self, symbol: str) -> PriceFeed:
        try:
            return self.feeds[symbol]
        except KeyError:
            raise InvalidOrder(f"paper exchange has no price feed for {symbol!r}") from None

    def _call(
        self, operation: str, action: Callable[[PaperBook, datetime], T], *, read: bool = False, current: bool = True
    ) -> T:
        """`action` on the book brought up to now. A `read` changes nothing itself: when the store has a current
        copy of the book (`current`: checked, see fetch_price) and no resting order crossed the price since it was
        last matched, it is answered from that copy without a session (no lock, no write); otherwise it takes a
        session like any other operation."""
        fault = self.faults.next(operation) if self.faults is not None else None
        if fault is Fault.NETWORK:
            raise NetworkError(f"injected network error on {operation}")
        if fault is Fault.RATE_LIMIT:
            raise RateLimitExceeded(f"injected rate limit on {operation}")
        now = self.clock.now()
        for feed in self.feeds.values():
            feed.observe(now)  # any I/O and waiting happens here, before the book's transaction and row lock
        book = self.store.peek(current=current) if read else None
        if book is not None and self._advance_quietly(book, now):
            result = action(book, now)
            self.store.matched(book)
        else:
            with self.store.session() as book:
                self._advance(book, now)
                result = action(book, now)
        if fault is Fault.TIMEOUT_AFTER:
            raise RequestTimeout(f"injected timeout on {operation}, after the exchange carried it out")
        return result

    def _advance_quietly(self, book: PaperBook, now: datetime) -> bool:
        """What `_advance` does when no resting order crosses the price path: move matched_until to now. False,
        leaving the book as it was, when some order would fill (the caller then matches under the lock)."""
        for symbol, feed in self.feeds.items():
            since = book.matched_until.get(symbol)
            if since is None or now <= since:
                continue
            low, high = book.bounds(symbol)
            if low is None and high is None:
                continue
            for _, price in feed.path(since, now):
                if (low is not None and price < low) or (high is not None and price > high):
                    return False
        for symbol in self.feeds:
            since = book.matched_until.get(symbol)
            if since is None or now > since:
                book.matched_until[symbol] = now
        return True

    def _advance(self, book: PaperBook, now: datetime) -> None:
        """Match resting orders over each feed's path since the book last matched that symbol."""
        for symbol, feed in self.feeds.items():
            since = book.matched_until.get(symbol)
            if since is not None and now <= since:
                continue
            if since is not None:
                low, high = book.bounds(symbol)
                if low is not None or high is not None:
                    for at, price in feed.path(since, now):
                        self._match(book, symbol, price, at, low, high)
                        low, high = book.bounds(symbol)
            book.matched_until[symbol] = now
            book.dirty = True

    def _match(
        self,
        book: PaperBook,
        symbol: str,
        price: Decimal,
        at: datetime,
        best_buy: Decimal | None,
        best_sell: Decimal | None,
    ) -> None:
        if (best_buy is None or price >= best_buy) and (best_sell is None or price <= best_sell):
            return
        rules = self.markets[symbol]
        crossed = [
            o
            for o in book.open_orders.values()
            if o.symbol == symbol
            and o.price is not None
            and ((o.side is Side.BUY and price < o.price) or (o.side is Side.SELL and price > o.price))
        ]
        for order in sorted(crossed, key=lambda o: o.created_at):
            amount = order.remaining
            if self.faults is not None and self.faults.take_partial_fill():
                half = rules.amount_down(amount / 2)
                if half >= rules.min_amount:
                    amount = half
            assert order.price is not None
            self._execute(book, rules, order, order.price, amount, rules.maker_fee, at)

    def _execute(
        self,
        book: PaperBook,
        rules: MarketRules,
        order: PaperOrder,
        price: Decimal,
        amount: Decimal,
        fee_rate: Decimal,
        at: datetime,
    ) -> None:
        notional = price * amount
        quote, base = book.balance(rules.quote), book.balance(rules.base)
        fee_currency = rules.quote
        if order.side is Side.BUY and self.buy_fee_in_base:
            fee, fee_currency = _fee(amount, fee_rate), rules.base
            quote.locked -= notional
            order.locked -= notional
            base.free += amount - fee
        elif order.side is Side.BUY:
            fee = _fee(notional, fee_rate)
            spent = notional + fee
            quote.locked -= spent
            order.locked -= spent
            base.free += amount
        else:
            fee = _fee(notional, fee_rate)
            base.locked -= amount
            order.locked -= amount
            quote.free += notional - fee
        order.filled += amount
        order.cost += notional
        order.fee += fee
        order.fee_currency = fee_currency
        order.trades.append(
            Trade(f"{order.exchange_order_id}-{len(order.trades) + 1}", price, amount, fee, fee_currency, at)
        )
        order.updated_at = at
        if order.filled >= order.amount:
            order.status = OrderStatus.FILLED
            self._release(book, rules, order)
        else:
            order.status = OrderStatus.PARTIALLY_FILLED
        book.touch(order)

    def _release(self, book: PaperBook, rules: MarketRules, order: PaperOrder) -> None:
        """Give back what a finished order still holds locked (the fee reserve it did not use, or its remainder)."""
        held = book.balance(rules.quote if order.side is Side.BUY else rules.base)
        held.locked -= order.locked
        held.free += order.locked
        order.locked = ZERO

    def _place(self, book: PaperBook, now: datetime, request: OrderRequest) -> OrderState:
        rules = self.market(request.symbol)
        price_now = self._feed(request.symbol).price_at(now)
        if book.find(request.client_order_id, None) is not None:
            raise InvalidOrder(f"duplicate client order id {request.client_order_id}")
        limit = request.price
        if request.type is OrderType.LIMIT:
            if limit is None:
                raise InvalidOrder("a limit order needs a price")
            marketable = limit >= price_now if request.side is Side.BUY else limit <= price_now
            fill_price = (
                (min(limit, price_now) if request.side is Side.BUY else max(limit, price_now)) if marketable else limit
            )
        else:
            marketable = True
            move = 1 + self.slippage if request.side is Side.BUY else 1 - self.slippage
            fill_price = (
                rules.price_up(price_now * move) if request.side is Side.BUY else rules.price_down(price_now * move)
            )
        problem = rules.check_steps(limit, request.amount)
        if problem:
            raise InvalidOrder(problem)
        # A market order's notional is judged at the market price, not at its slipped fill: Binance measures it
        # against its average price (MIN_NOTIONAL/NOTIONAL avgPriceMins), so a sale the engine checked at the price
        # it saw is not refused for the slippage it then pays.
        refusal = rules.refusal(
            price_now if limit is None else limit, request.amount, price_range=False, market=limit is None
        )
        if refusal is not None:
            raise refusal
        self._check_moment_rules(book, rules, request, price_now)
        if request.side is Side.BUY:
            reserve_price = limit if limit is not None else fill_price
            worst_rate = max(rules.maker_fee, rules.taker_fee)
            need = (reserve_price * request.amount * (1 + worst_rate)).quantize(FEE_QUANTUM, ROUND_CEILING)
            held = book.balance(rules.quote)
        else:
            need = request.amount
            held = book.balance(rules.base)
        if held.free < need:
            asset = rules.quote if request.side is Side.BUY else rules.base
            raise InsufficientFunds(f"needs {need:f} {asset}, {held.free:f} free")
        held.free -= need
        held.locked += need
        order = PaperOrder(
            client_order_id=request.client_order_id,
            exchange_order_id=f"P{book.next_seq}",
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            price=limit,
            amount=request.amount,
            created_at=now,
            updated_at=now,
            locked=need,
        )
        book.next_seq += 1
        book.open_orders[order.client_order_id] = order
        book.touch(order)
        if marketable:
            self._execute(book, rules, order, fill_price, request.amount, rules.taker_fee, now)
        return order.state()

    def _check_moment_rules(
        self, book: PaperBook, rules: MarketRules, request: OrderRequest, price_now: Decimal
    ) -> None:
        """The rules that depend on the moment, as Binance applies them: the price band (around the current price:
        the paper book has no trade history to average), the open-order cap and, for buys, the maximum position."""
        problem = None
        if request.price is not None:
            problem = rules.price_band_refusal(request.side, request.price, price_now)
        if problem is None:
            problem = rules.open_orders_refusal(sum(1 for o in book.open_orders.values() if o.symbol == rules.symbol))
        if problem is None and request.side is Side.BUY and rules.max_position:
            base = book.balance(rules.base)
            buying = sum(
                (o.remaining for o in book.open_orders.values() if o.symbol == rules.symbol and o.side is Side.BUY),
                ZERO,
            )
            problem = rules.position_refusal(base.total + buying, request.amount)
        if problem is not None:
            raise InvalidOrder(problem)

    def _cancel(self, book: PaperBook, now: datetime, client_order_id: str) -> OrderState:
        order = book.open_orders.get(client_order_id)
        if order is None:
            # As Binance does (-2011 "Unknown order sent"): a filled or canceled order cannot be canceled.
            raise OrderNotFound(f"order {client_order_id} is not open")
        order.status = OrderStatus.CANCELED
        order.updated_at = now
        self._release(book, self.markets[order.symbol], order)
        book.touch(order)
        return order.state()
