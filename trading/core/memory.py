"""In-memory Journal and StatusBoard: for tests, the backtester and benchmarks. No Django."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from trading.core.events import Event
from trading.core.types import EngineStatus, FillRecord, JournalSnapshot, Lot, OrderRecord


class InMemoryJournal:
    """Keeps every record ever saved, as the database would. Records are immutable, so nothing is copied."""

    def __init__(self, *, keep_events: bool = True) -> None:
        self.keep_events = keep_events  # the backtester reads no events: it keeps none
        self.orders: dict[str, OrderRecord] = {}
        self.fills: dict[tuple[str, str], FillRecord] = {}
        self.lots: dict[str, Lot] = {}
        self.anchor: Decimal | None = None
        self.events: list[Event] = []  # as written, without the repeat rule (the ORM writer's)
        self.saves = 0

    def load(self, *, closed_since: datetime, last_closed: int) -> JournalSnapshot:
        closed = sorted(
            (lot for lot in self.lots.values() if not lot.is_open), key=lambda lot: lot.closed_at or closed_since
        )
        recent = {lot.entry_client_order_id for lot in closed[-last_closed:]} if last_closed else set()
        return JournalSnapshot(
            orders=[o for o in self.orders.values() if o.is_active],
            lots=[lot for lot in self.lots.values() if lot.is_open],
            closed_lots=[
                lot
                for lot in closed
                if lot.entry_client_order_id in recent or (lot.closed_at and lot.closed_at >= closed_since)
            ],
            last_sequence=max((o.sequence for o in self.orders.values()), default=0),
            anchor=self.anchor,
            dust=[lot for lot in closed if lot.remaining > 0],
        )

    def save(
        self,
        *,
        orders: Sequence[OrderRecord] = (),
        fills: Sequence[FillRecord] = (),
        lots: Sequence[Lot] = (),
        anchor: Decimal | None = None,
        events: Sequence[Event] = (),
    ) -> None:
        for order in orders:
            self.orders[order.client_order_id] = order
        for fill in fills:
            self.fills.setdefault((fill.client_order_id, fill.trade_id), fill)
        for lot in lots:
            self.lots[lot.entry_client_order_id] = lot
        if anchor is not None:
            self.anchor = anchor
        if self.keep_events:
            self.events.extend(events)
        self.saves += 1

    def find_order(self, client_order_id: str) -> OrderRecord | None:
        return self.orders.get(client_order_id)


class InMemoryStatusBoard:
    def __init__(self) -> None:
        self.last: EngineStatus | None = None
        self.published = 0

    def publish(self, status: EngineStatus) -> None:
        self.last = status
        self.published += 1
