"""OrderBook: the engine's active orders (pending, open, partially filled) by client order id. Pure bookkeeping.

An order enters the book when it is journaled (write-ahead, before it is sent) or adopted, is replaced by each
newer record of it, and leaves when it is done (filled, canceled, rejected, lost). Beside each open order the book
keeps the exchange's last answer about it, so that a sync seeing the very same answer again skips it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from exchanges.base import OrderState, OrderStatus, Side
from trading.core.types import OrderRecord, Role


class OrderBook:
    def __init__(self, orders: Iterable[OrderRecord] = ()) -> None:
        self._orders: dict[str, OrderRecord] = {}
        self._seen: dict[str, OrderState] = {}
        # Kept in step by the only two methods that change which orders are in the book: publishing the counts
        # every tick must not cost a pass over the book.
        self._buys = 0
        for order in orders:
            self.put(order)

    def __len__(self) -> int:
        return len(self._orders)

    def __iter__(self) -> Iterator[OrderRecord]:
        return iter(self._orders.values())

    def __getitem__(self, client_order_id: str) -> OrderRecord:
        return self._orders[client_order_id]

    def get(self, client_order_id: str) -> OrderRecord | None:
        return self._orders.get(client_order_id)

    @property
    def buys(self) -> int:
        return self._buys

    @property
    def sells(self) -> int:
        return len(self._orders) - self._buys

    def with_role(self, role: Role) -> list[OrderRecord]:
        return [o for o in self._orders.values() if o.role is role]

    def pending(self) -> list[OrderRecord]:
        """Orders written ahead whose sending has no known outcome yet: reconcile settles them."""
        return [o for o in self._orders.values() if o.status is OrderStatus.PENDING]

    def last_seen(self, client_order_id: str) -> OrderState | None:
        """The exchange's last answer about an open order, when that answer is what its record says."""
        return self._seen.get(client_order_id)

    def put(self, record: OrderRecord, seen: OrderState | None = None) -> None:
        """Add or replace an active order; `seen` is the exchange's answer its record now agrees with."""
        if record.client_order_id not in self._orders and record.side is Side.BUY:
            self._buys += 1
        self._orders[record.client_order_id] = record
        if seen is not None:
            self._seen[record.client_order_id] = seen

    def remove(self, client_order_id: str) -> None:
        record = self._orders.pop(client_order_id, None)
        self._seen.pop(client_order_id, None)
        if record is not None and record.side is Side.BUY:
            self._buys -= 1

    def update(self, record: OrderRecord, state: OrderState) -> None:
        """Take the record made from the exchange's `state`: kept while active, dropped when done."""
        if record.is_active:
            self.put(record, state)
        else:
            self.remove(record.client_order_id)
