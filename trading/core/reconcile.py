"""Reconciler: keeping the journal and the order book in step with the exchange, by client order id.

It resolves the orders written ahead whose sending had no known outcome, syncs the active orders with the exchange
every tick, adopts an order of ours that surfaced late, books fills into lots, and writes off orders the exchange
never received (`lost`) or refused (`rejected`). The engine decides which orders to place and cancel; everything
the exchange answers about them comes through here.

Every change the exchange reports is journaled in one `save` (order, its new fills, the lot they open or close),
so a crash between two saves leaves nothing half-booked; the next reconcile picks up from there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from exchanges.base import ACTIVE_STATUSES, ZERO, Exchange, OrderNotFound, OrderState, OrderStatus, Side
from exchanges.clock import Clock
from trading.core.book import OrderBook
from trading.core.events import Event, EventKind, event
from trading.core.positions import PositionTracker
from trading.core.types import ExitReason, FillRecord, Journal, Lot, OrderRecord, Role

_EXIT_KINDS = {
    str(ExitReason.TAKE_PROFIT): EventKind.TAKE_PROFIT_FILLED,
    str(ExitReason.STOP_LOSS): EventKind.STOP_LOSS_SOLD,
    str(ExitReason.TIME_STOP): EventKind.TIME_STOP_SOLD,
}


class Reconciler:
    """No I/O but through `exchange` and `journal`. What a user should see goes to `note`; every lot that closes
    goes to `lot_closed` (the engine keeps the recent ones for its risk rules)."""

    def __init__(
        self,
        exchange: Exchange,
        journal: Journal,
        book: OrderBook,
        positions: PositionTracker,
        *,
        symbol: str,
        client_id_prefix: str,
        clock: Clock,
        note: Callable[[str], None],
        lot_closed: Callable[[Lot, datetime], None],
    ) -> None:
        self.exchange = exchange
        self.journal = journal
        self.book = book
        self.positions = positions
        self.symbol = symbol
        self.client_id_prefix = client_id_prefix
        self.clock = clock
        self.note = note
        self.lot_closed = lot_closed
        # Until a reconcile finds every order's state: true on creation (a start), and after any error.
        self.needed = True
        # Open orders on the symbol that are not ours (another strategy's, the user's own), as the last look at the
        # exchange's open orders found them: they count toward the exchange's open-order cap too.
        self.foreign_open = 0

    def require(self) -> None:
        """The outcome of something sent is unknown (an error): reconcile before acting again."""
        self.needed = True

    def reconcile(self) -> None:
        """Resolve every `pending` order by client id, then sync all active orders with the exchange."""
        now = self.clock.now()
        delay = self.exchange.order_visibility_delay
        for record in self.book.pending():
            try:
                state = self.exchange.fetch_order(self.symbol, client_order_id=record.client_order_id)
            except OrderNotFound:
                if not delay or now - record.created_at >= delay:
                    self.mark_lost(record, "the exchange never received it", now)
                continue
            self.apply(record, state)
        self.sync(include_unknown=True)
        self.needed = bool(self.book.pending())

    def sync(self, include_unknown: bool = False) -> None:
        """Adopt what the exchange says about every active order. `include_unknown`: look at the exchange's open
        orders even when the book is empty (an order of ours may have surfaced late)."""
        if not len(self.book) and not include_unknown:
            return
        open_states = {s.client_order_id: s for s in self.exchange.fetch_open_orders(self.symbol)}
        for record in list(self.book):
            if record.status is OrderStatus.PENDING:
                self.needed = True
                continue
            state = open_states.pop(record.client_order_id, None)
            if state is not None and state is self.book.last_seen(record.client_order_id):
                continue  # the very answer already applied: an exchange that caches unchanged orders costs nothing
            if state is None:
                # Not open any more: filled or canceled since the last look. Ask for its final state.
                try:
                    state = self.exchange.fetch_order(self.symbol, client_order_id=record.client_order_id)
                except OrderNotFound:
                    self.mark_lost(record, "open in the journal, unknown to the exchange", self.clock.now())
                    continue
            if (
                state.filled != record.filled
                or state.status != record.status
                or state.exchange_order_id != record.exchange_order_id
            ):
                self.apply(record, state)
            elif state.is_open:
                self.book.put(record, seen=state)
        for client_id, state in open_states.items():
            if client_id.startswith(self.client_id_prefix):
                self._adopt(client_id, state)
        self.foreign_open = sum(1 for client_id in open_states if self.book.get(client_id) is None)

    def cancel(self, record: OrderRecord) -> None:
        """Cancel an order and adopt its final state. One no longer open (it filled, or was canceled meanwhile)
        is looked up instead: its fills must be booked all the same."""
        try:
            state = self.exchange.cancel_order(self.symbol, record.client_order_id)
        except OrderNotFound:
            state = self.exchange.fetch_order(self.symbol, client_order_id=record.client_order_id)
        self.apply(record, state)

    def _adopt(self, client_id: str, state: OrderState) -> None:
        """An open order of ours the engine does not track: one marked lost that reached the exchange after all."""
        record = self.journal.find_order(client_id)
        if record is None:
            self.note(f"unknown open order {client_id} on the exchange: not in the journal, left alone")
            return
        self.book.put(record)
        lot = self.positions.open.get(record.parent) if record.parent is not None else None
        if record.role is Role.GRID_BUY:
            replaced = any(o.price == record.price and o is not record for o in self.book)
        else:
            replaced = lot is None or lot.exit_client_order_id not in (None, client_id)
        if replaced:
            # It was written off and replaced before it surfaced: keeping both would buy a level twice or
            # sell a lot twice, so the late one goes.
            self.note(f"order {client_id}, written off as {record.status}, surfaced late: canceled")
            self.cancel(record)
            return
        # The lot's new exit is journaled with the order: kept in memory only, a restart would give the lot a
        # second take-profit while this one still rests.
        adopted = [self.positions.set_exit(lot, client_id)] if lot is not None else []
        self.apply(record, state, lots=adopted)

    def apply(self, record: OrderRecord, state: OrderState, *, lots: Sequence[Lot] = ()) -> None:
        """Adopt the exchange's state of an order: book its new fills, open or close lots, journal it at once
        (with `lots`, lots changed on the order's account that must be written in the same save)."""
        now = self.clock.now()
        fills = self._new_fills(record, state)
        filled = record.filled + sum((f.amount for f in fills), ZERO)
        status = state.status
        if status is OrderStatus.FILLED and filled < record.amount:
            status = OrderStatus.PARTIALLY_FILLED  # the exchange said filled before listing every trade
        updated = replace(
            record,
            status=status,
            exchange_order_id=state.exchange_order_id or record.exchange_order_id,
            filled=filled,
            cost=record.cost + sum((f.price * f.amount for f in fills), ZERO),
            fee=record.fee + sum((f.fee for f in fills), ZERO),
            fee_currency=fills[-1].fee_currency if fills else record.fee_currency,
            trade_ids=record.trade_ids | {f.trade_id for f in fills},
            last_fill_at=fills[-1].executed_at if fills else record.last_fill_at,
            closed_at=None if status in ACTIVE_STATUSES else (record.closed_at or now),
        )
        changed: dict[str, Lot] = {lot.entry_client_order_id: lot for lot in lots}
        events = [self._fill_event(record, fill) for fill in fills if record.side is Side.BUY]
        if updated.role is Role.GRID_BUY:
            if not updated.is_active and updated.filled > 0:
                changed.update((lot.entry_client_order_id, lot) for lot in self.positions.open_lot(updated))
        elif updated.parent is not None:
            lot = self.positions.open.get(updated.parent)
            if lot is not None and (fills or not updated.is_active):
                lot = self.positions.apply_exit(lot, updated, fills, now)
                changed[lot.entry_client_order_id] = lot  # the latest state of a lot passed in `lots` wins
                if not lot.is_open:
                    self.lot_closed(lot, now)
                    events.append(self._exit_event(updated, lot, now))
        # The events commit with the fills and lots they describe: none without its fill, no fill without its event.
        self.journal.save(orders=[updated], fills=fills, lots=list(changed.values()), events=events)
        self.book.update(updated, state)

    def _fill_event(self, record: OrderRecord, fill: FillRecord) -> Event:
        return event(
            EventKind.BUY_FILLED,
            fill.executed_at,
            symbol=self.symbol,
            price=fill.price,
            amount=fill.amount,
            fee=fill.fee,
            fee_currency=fill.fee_currency,
            client_order_id=record.client_order_id,
        )

    def _exit_event(self, order: OrderRecord, lot: Lot, now: datetime) -> Event:
        """A closed lot: its take-profit filled, or a stop sold it, with the lot's PnL (a loss is negative)."""
        return event(
            _EXIT_KINDS.get(lot.exit_reason, EventKind.TAKE_PROFIT_FILLED),
            order.last_fill_at or now,
            symbol=self.symbol,
            price=lot.exit_price,
            amount=lot.sold_quantity,
            fee=order.fee,
            fee_currency=order.fee_currency,
            client_order_id=order.client_order_id,
            entry_client_order_id=lot.entry_client_order_id,
            entry_price=lot.entry_price,
            lot_pnl=lot.realized_pnl,
            quote=self.positions.rules.quote,
            # the market's tick: readers show the PnL, a quote amount, at its places (a recorded price's own
            # places may be fewer, its trailing zeros gone)
            tick=self.positions.rules.tick_size,
            reason=lot.exit_reason,
        )

    def _new_fills(self, record: OrderRecord, state: OrderState) -> list[FillRecord]:
        if state.trades:
            return [
                FillRecord(
                    record.client_order_id,
                    t.trade_id,
                    record.side,
                    t.price,
                    t.amount,
                    t.fee,
                    t.fee_currency,
                    t.timestamp,
                )
                for t in state.trades
                if t.trade_id not in record.trade_ids
            ]
        if state.filled <= record.filled:
            return []
        # An exchange that reports totals only: the new part becomes one fill, named by the cumulative amount
        # so that seeing the same total again books nothing.
        amount = state.filled - record.filled
        average = state.average_price or state.price or ZERO
        price = (average * state.filled - record.cost) / amount
        fee = state.fee - record.fee
        at = state.updated_at or self.clock.now()
        trade_id = f"total-{state.filled:f}"
        return [FillRecord(record.client_order_id, trade_id, record.side, price, amount, fee, state.fee_currency, at)]

    def mark_lost(self, record: OrderRecord, why: str, now: datetime, status: OrderStatus = OrderStatus.LOST) -> None:
        """Close an order that never reached the exchange (LOST) or that it refused (REJECTED)."""
        lost = replace(record, status=status, error=why[:500], closed_at=now)
        lots: list[Lot] = []
        if record.parent is not None:
            lot = self.positions.open.get(record.parent)
            if lot is not None and lot.exit_client_order_id == record.client_order_id:
                lots.append(self.positions.set_exit(lot, None))
        self.journal.save(orders=[lost], lots=lots)
        self.book.remove(record.client_order_id)
