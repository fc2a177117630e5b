"""Keeping the journal in step with the exchange: reconcile by client order id, sync order states each tick,
book fills into lots, and write off orders the exchange never received. The TradingEngine's first half.

Every change the exchange reports is journaled in one `save` (order, its new fills, the lot they open or close),
so a crash between two saves leaves nothing half-booked; the next reconcile picks up from there.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from exchanges.base import ACTIVE_STATUSES, ZERO, Exchange, MarketRules, OrderNotFound, OrderState, OrderStatus
from exchanges.clock import Clock
from trading.core.positions import PositionTracker
from trading.core.risk import RiskManager
from trading.core.types import EngineConfig, FillRecord, Journal, Lot, OrderRecord, Role

# Closed lots kept in memory for the risk rules: today's and the last few are all they read.
_CLOSED_KEPT = 500


class OrderSync:
    """State shared with TradingEngine; see there. No I/O but through `exchange` and `journal`."""

    config: EngineConfig
    exchange: Exchange
    journal: Journal
    clock: Clock
    rules: MarketRules
    risk: RiskManager
    positions: PositionTracker
    orders: dict[str, OrderRecord]
    closed: list[Lot]
    needs_reconcile: bool
    _notes: list[str]
    _seen: dict[str, OrderState]
    _counts: tuple[int, int] | None

    def reconcile(self) -> None:
        """Resolve every `pending` order by client id, then sync all active orders with the exchange."""
        now = self.clock.now()
        delay = self.exchange.order_visibility_delay
        for record in [o for o in self.orders.values() if o.status is OrderStatus.PENDING]:
            try:
                state = self.exchange.fetch_order(self.config.symbol, client_order_id=record.client_order_id)
            except OrderNotFound:
                if not delay or now - record.created_at >= delay:
                    self._mark_lost(record, "the exchange never received it", now)
                continue
            self._apply(record, state)
        self._sync_orders(include_unknown=True)
        self.needs_reconcile = any(o.status is OrderStatus.PENDING for o in self.orders.values())

    # --- step 2: sync ------------------------------------------------------------------------------------------------
    def _sync_orders(self, include_unknown: bool = False) -> None:
        if not self.orders and not include_unknown:
            return
        open_states = {s.client_order_id: s for s in self.exchange.fetch_open_orders(self.config.symbol)}
        seen = self._seen
        for record in list(self.orders.values()):
            if record.status is OrderStatus.PENDING:
                self.needs_reconcile = True
                continue
            state = open_states.pop(record.client_order_id, None)
            if state is not None and state is seen.get(record.client_order_id):
                continue  # the very answer already applied: an exchange that caches unchanged orders costs nothing
            if state is None:
                # Not open any more: filled or canceled since the last look. Ask for its final state.
                try:
                    state = self.exchange.fetch_order(self.config.symbol, client_order_id=record.client_order_id)
                except OrderNotFound:
                    self._mark_lost(record, "open in the journal, unknown to the exchange", self.clock.now())
                    continue
            if (
                state.filled != record.filled
                or state.status != record.status
                or state.exchange_order_id != record.exchange_order_id
            ):
                self._apply(record, state)
            elif state.is_open:
                seen[record.client_order_id] = state
        prefix = self.config.client_id_prefix
        for client_id, state in open_states.items():
            if client_id.startswith(prefix):
                self._adopt(client_id, state)

    def _adopt(self, client_id: str, state: OrderState) -> None:
        """An open order of ours the engine does not track: one marked lost that reached the exchange after all."""
        record = self.journal.find_order(client_id)
        if record is None:
            self._notes.append(f"unknown open order {client_id} on the exchange: not in the journal, left alone")
            return
        self.orders[client_id] = record
        self._counts = None
        lot = self.positions.open.get(record.parent) if record.parent is not None else None
        if record.role is Role.GRID_BUY:
            replaced = any(o.price == record.price and o is not record for o in self.orders.values())
        else:
            replaced = lot is None or lot.exit_client_order_id not in (None, client_id)
        if replaced:
            # It was written off and replaced before it surfaced: keeping both would buy a level twice or
            # sell a lot twice, so the late one goes.
            try:
                state = self.exchange.cancel_order(self.config.symbol, client_id)
            except OrderNotFound:
                state = self.exchange.fetch_order(self.config.symbol, client_order_id=client_id)
            self._notes.append(f"order {client_id}, written off as {record.status}, surfaced late: canceled")
        elif lot is not None:
            self.positions.set_exit(lot, client_id)
        self._apply(record, state)

    def _apply(self, record: OrderRecord, state: OrderState) -> None:
        """Adopt the exchange's state of an order: book its new fills, open or close lots, journal it at once."""
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
        lots: list[Lot] = []
        if updated.role is Role.GRID_BUY:
            if not updated.is_active and updated.filled > 0:
                lots.extend(self.positions.open_lot(updated))
        elif updated.parent is not None:
            lot = self.positions.open.get(updated.parent)
            if lot is not None and (fills or not updated.is_active):
                lot = self.positions.apply_exit(lot, updated, fills, now)
                lots.append(lot)
                if not lot.is_open:
                    self._remember_closed(lot, now)
        self.journal.save(orders=[updated], fills=fills, lots=lots)
        self._counts = None
        if updated.is_active:
            self.orders[updated.client_order_id] = updated
            self._seen[updated.client_order_id] = state
        else:
            self.orders.pop(updated.client_order_id, None)
            self._seen.pop(updated.client_order_id, None)

    def _remember_closed(self, lot: Lot, now: datetime) -> None:
        self.closed.append(lot)
        if len(self.closed) > _CLOSED_KEPT:
            since = self.risk.day_start(now)
            keep = self.config.max_consecutive_losses or 0
            tail = self.closed[-keep:] if keep else []
            self.closed = [x for x in self.closed[: -keep or None] if x.closed_at and x.closed_at >= since] + tail

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

    def _mark_lost(self, record: OrderRecord, why: str, now: datetime, status: OrderStatus = OrderStatus.LOST) -> None:
        """Close an order that never reached the exchange (LOST) or that it refused (REJECTED)."""
        lost = replace(record, status=status, error=why[:500], closed_at=now)
        lots: list[Lot] = []
        if record.parent is not None:
            lot = self.positions.open.get(record.parent)
            if lot is not None and lot.exit_client_order_id == record.client_order_id:
                lots.append(self.positions.set_exit(lot, None))
        self.journal.save(orders=[lost], lots=lots)
        self.orders.pop(record.client_order_id, None)
        self._seen.pop(record.client_order_id, None)
        self._counts = None
