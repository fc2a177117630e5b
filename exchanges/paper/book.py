"""The paper exchange's state (balances, orders, how far matching has run) and where it is kept.

A `PaperStore` hands out the book for one operation at a time (`session()`), so that several processes trading
the same paper account apply their operations one after another on the same book. `InMemoryPaperStore` is for
tests, the backtester and benchmarks; `exchanges.paper.store.DbPaperStore` keeps it in the database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from exchanges.base import ZERO, Balance, OrderState, OrderStatus, OrderType, Side, Trade


@dataclass(slots=True, eq=False)
class PaperOrder:
    client_order_id: str
    exchange_order_id: str
    symbol: str
    side: Side
    type: OrderType
    price: Decimal | None
    amount: Decimal
    created_at: datetime
    updated_at: datetime
    status: OrderStatus = OrderStatus.OPEN
    filled: Decimal = ZERO
    cost: Decimal = ZERO  # Σ price × amount over its trades
    fee: Decimal = ZERO
    fee_currency: str = ""
    locked: Decimal = ZERO  # what this order still holds locked: quote for a buy, base for a sell
    trades: list[Trade] = field(default_factory=list)
    _snapshot: OrderState | None = None

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled

    @property
    def is_open(self) -> bool:
        return self.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)

    def state(self) -> OrderState:
        # Cached until the order changes: fetch_open_orders runs every tick and most orders rest untouched.
        if self._snapshot is None:
            self._snapshot = OrderState(
                client_order_id=self.client_order_id,
                exchange_order_id=self.exchange_order_id,
                symbol=self.symbol,
                side=self.side,
                type=self.type,
                price=self.price,
                amount=self.amount,
                filled=self.filled,
                status=self.status,
                fee=self.fee,
                fee_currency=self.fee_currency,
                average_price=self.cost / self.filled if self.filled else None,
                trades=tuple(self.trades),
                updated_at=self.updated_at,
            )
        return self._snapshot


def _no_lookup(client_order_id: str | None, exchange_order_id: str | None) -> PaperOrder | None:
    return None


@dataclass(eq=False)
class PaperBook:
    """One paper account: balances per asset, open orders by client id, matching progress per symbol."""

    balances: dict[str, Balance]
    open_orders: dict[str, PaperOrder] = field(default_factory=dict)
    matched_until: dict[str, datetime] = field(default_factory=dict)
    next_seq: int = 1
    # Finds an order that is no longer open (filled, canceled) by client id or exchange id.
    lookup: Callable[[str | None, str | None], PaperOrder | None] = _no_lookup
    changed: dict[str, PaperOrder] = field(default_factory=dict)  # orders touched in this session
    dirty: bool = False  # balances, matching progress or sequence changed in this session
    _bounds: dict[str, tuple[Decimal | None, Decimal | None]] = field(default_factory=dict)
    _open_states: dict[str, list[OrderState]] = field(default_factory=dict)

    def balance(self, asset: str) -> Balance:
        found = self.balances.get(asset)
        if found is None:
            found = self.balances[asset] = Balance()
        return found

    def touch(self, order: PaperOrder) -> None:
        """Record that `order` changed (to persist it and drop cached views of it)."""
        order._snapshot = None
        self.changed[order.client_order_id] = order
        self._bounds.pop(order.symbol, None)
        self._open_states.pop(order.symbol, None)
        self.dirty = True
        if not order.is_open:
            self.open_orders.pop(order.client_order_id, None)

    def find(self, client_order_id: str | None, exchange_order_id: str | None) -> PaperOrder | None:
        if client_order_id is not None:
            found = self.open_orders.get(client_order_id) or self.changed.get(client_order_id)
            if found is not None:
                return found
        else:
            for order in (*self.open_orders.values(), *self.changed.values()):
                if order.exchange_order_id == exchange_order_id:
                    return order
        return self.lookup(client_order_id, exchange_order_id)

    def bounds(self, symbol: str) -> tuple[Decimal | None, Decimal | None]:
        """(highest resting limit buy, lowest resting limit sell) of `symbol`: a price inside needs no matching."""
        found = self._bounds.get(symbol)
        if found is None:
            buys = [o.price for o in self.open_orders.values() if o.symbol == symbol and o.side is Side.BUY and o.price]
            sells = [
                o.price for o in self.open_orders.values() if o.symbol == symbol and o.side is Side.SELL and o.price
            ]
            found = self._bounds[symbol] = (max(buys, default=None), min(sells, default=None))
        return found

    def open_states(self, symbol: str) -> list[OrderState]:
        found = self._open_states.get(symbol)
        if found is None:
            found = self._open_states[symbol] = [o.state() for o in self.open_orders.values() if o.symbol == symbol]
        return found


class PaperStore(Protocol):
    def session(self) -> AbstractContextManager[PaperBook]:
        """The book, for one operation: changes made to it are kept atomically when the block ends."""
        ...

    def peek(self, *, current: bool = True) -> PaperBook | None:
        """The book as last committed (`current`; else as this process last saw it), for a read that changes
        nothing but its matched_until, without a session; None when the store cannot tell cheaply (the read then
        takes a session)."""
        ...

    def matched(self, book: PaperBook) -> None:
        """A `peek`ed book's matched_until moved on with no fill: the store may keep that progress."""
        ...


class InMemoryPaperStore:
    """A book in this process's memory. The lock serialises threads, as the database row lock does processes."""

    def __init__(self, balances: Mapping[str, Decimal | str]) -> None:
        self.book = PaperBook(balances={asset: Balance(free=Decimal(v)) for asset, v in balances.items()})
        self.book.lookup = self._lookup
        self._closed: dict[str, PaperOrder] = {}
        self._by_exchange_id: dict[str, str] = {}
        self._lock = threading.Lock()

    def _lookup(self, client_order_id: str | None, exchange_order_id: str | None) -> PaperOrder | None:
        if client_order_id is None and exchange_order_id is not None:
            client_order_id = self._by_exchange_id.get(exchange_order_id)
        return self._closed.get(client_order_id) if client_order_id is not None else None

    @contextmanager
    def _session(self) -> Iterator[PaperBook]:
        with self._lock:
            try:
                yield self.book
            finally:
                for order in self.book.changed.values():
                    self._by_exchange_id[order.exchange_order_id] = order.client_order_id
                    if not order.is_open:
                        self._closed[order.client_order_id] = order
                self.book.changed.clear()
                self.book.dirty = False

    def session(self) -> AbstractContextManager[PaperBook]:
        return self._session()

    def peek(self, *, current: bool = True) -> None:
        return None  # a lock in memory costs next to nothing: every operation takes its session

    def matched(self, book: PaperBook) -> None:
        pass

    def all_orders(self) -> list[PaperOrder]:
        """Every order the book has seen (tests compare books with it)."""
        return [*self._closed.values(), *self.book.open_orders.values()]
