"""OrmJournal: the engine's Journal on the trade-record models (Order, Fill, Position, EngineState).

Each `save` is one transaction, so an order's new status, its fills and the lot they open or close are written
together or not at all: a crash between two saves leaves a state that reconcile completes, never a half-booked
fill. An order's totals over its fills (filled, cost, fee) are stored on the order in that same transaction and
read back as stored; from its fills a load takes only their trade ids (so that none is booked twice) and the time
of the last. Exact sums (an order's cost, a lot's entry cost and exit proceeds) are what the engine resumes from,
not the rounded averages shown to users.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from exchanges.base import ACTIVE_STATUSES, OrderStatus, OrderType, Side, plain_number
from trading.core.events import Event
from trading.core.types import FillRecord, JournalSnapshot, Lot, OrderRecord, Role
from trading.events import write_events
from trading.models import EngineState, Fill, Order, Position

log = logging.getLogger(__name__)

_ACTIVE = [str(s) for s in ACTIVE_STATUSES]


class OrmJournal:
    def __init__(self, strategy_id: int) -> None:
        self.strategy_id = strategy_id
        self._ids: dict[str, int] = {}  # client order id → Order pk, for orders known to be committed

    # --- reading ---
    def _records(self, orders: Iterable[Order]) -> list[OrderRecord]:
        orders = list(orders)
        trade_ids: dict[int, set[str]] = defaultdict(set)
        last_fill_at: dict[int, datetime] = {}
        fills = Fill.objects.filter(order__in=[o.pk for o in orders]).order_by("executed_at", "id")
        for order_id, trade_id, executed_at in fills.values_list("order_id", "trade_id", "executed_at"):
            if trade_id is not None:
                trade_ids[order_id].add(trade_id)
            last_fill_at[order_id] = executed_at
        parents = dict(
            Order.objects.filter(pk__in={o.parent_id for o in orders if o.parent_id}).values_list(
                "pk", "client_order_id"
            )
        )
        records = []
        for order in orders:
            self._ids[order.client_order_id] = order.pk
            records.append(
                OrderRecord(
                    client_order_id=order.client_order_id,
                    symbol=order.symbol,
                    side=Side(order.side),
                    type=OrderType(order.type),
                    role=Role(order.role),
                    amount=order.amount,
                    price=order.price,
                    created_at=order.created_at,
                    status=OrderStatus(order.status),
                    exchange_order_id=order.exchange_order_id,
                    filled=order.filled,
                    cost=order.cost,
                    fee=order.fee,
                    fee_currency=order.fee_currency,
                    parent=parents.get(order.parent_id) if order.parent_id else None,
                    error=order.error,
                    trade_ids=frozenset(trade_ids[order.pk]),
                    last_fill_at=last_fill_at.get(order.pk),
                    closed_at=order.closed_at,
                )
            )
        return records

    def _lot(self, position: Position, exit_id: str | None) -> Lot:
        entry = position.entry_order
        return Lot(
            entry_client_order_id=entry.client_order_id,
            level_price=entry.price if entry.price is not None else position.entry_price,
            quantity=position.quantity,
            entry_cost=position.entry_cost,
            entry_fee_quote=position.entry_fee_quote,
            opened_at=position.opened_at,
            exit_client_order_id=exit_id,
            sold_quantity=position.sold_quantity,
            exit_proceeds=position.exit_proceeds,
            exit_fee_quote=position.exit_fee_quote,
            closed_at=position.closed_at,
            realized_pnl=position.realized_pnl,
            exit_reason=position.exit_reason,
        )

    def load(self, *, closed_since: datetime, last_closed: int) -> JournalSnapshot:
        active = self._records(Order.objects.filter(strategy_id=self.strategy_id, status__in=_ACTIVE).order_by("id"))
        exits = {o.parent: o.client_order_id for o in active if o.parent is not None}
        positions = Position.objects.filter(strategy_id=self.strategy_id).select_related("entry_order", "exit_order")
        lots = [self._lot(p, exits.get(p.entry_order.client_order_id)) for p in positions.filter(closed_at=None)]
        closed_q = Q(closed_at__gte=closed_since)
        if last_closed:
            latest = positions.exclude(closed_at=None).order_by("-closed_at", "-id").values_list("pk", flat=True)
            closed_q |= Q(pk__in=list(latest[:last_closed]))
        closed = [
            self._lot(p, p.exit_order.client_order_id if p.exit_order else None)
            for p in positions.exclude(closed_at=None).filter(closed_q).order_by("closed_at", "id")
        ]
        with_dust = positions.exclude(closed_at=None).filter(quantity__gt=F("sold_quantity"))
        dust = [
            self._lot(p, p.exit_order.client_order_id if p.exit_order else None)
            for p in with_dust.order_by("closed_at", "id")
        ]
        last = (
            Order.objects.filter(strategy_id=self.strategy_id).order_by("-id").values_list("client_order_id", flat=True)
        )
        last_id = last.first()
        state = EngineState.objects.filter(strategy_id=self.strategy_id).first()
        return JournalSnapshot(
            orders=active,
            lots=lots,
            closed_lots=closed,
            last_sequence=int(last_id.rsplit("-", 1)[1]) if last_id else 0,
            anchor=state.anchor_price if state is not None else None,
            dust=dust,
        )

    def find_order(self, client_order_id: str) -> OrderRecord | None:
        found = self._records(Order.objects.filter(strategy_id=self.strategy_id, client_order_id=client_order_id))
        return found[0] if found else None

    # --- writing ---
    def save(
        self,
        *,
        orders: Sequence[OrderRecord] = (),
        fills: Sequence[FillRecord] = (),
        lots: Sequence[Lot] = (),
        anchor: Decimal | None = None,
        events: Sequence[Event] = (),
    ) -> None:
        ids = dict(self._ids)
        booked: list[Fill] = []
        with transaction.atomic():
            wanted = {o.client_order_id for o in orders} | {o.parent for o in orders if o.parent}
            wanted |= {f.client_order_id for f in fills}
            wanted |= {x for lot in lots for x in (lot.entry_client_order_id, lot.exit_client_order_id) if x}
            missing = wanted - ids.keys()
            if missing:
                ids.update(Order.objects.filter(client_order_id__in=missing).values_list("client_order_id", "pk"))
            if orders:
                self._save_orders(orders, ids)
            if fills:
                booked = self._save_fills(fills, ids)
            for lot in lots:
                self._save_lot(lot, ids)
            if anchor is not None:
                EngineState.objects.update_or_create(strategy_id=self.strategy_id, defaults={"anchor_price": anchor})
            if events:
                write_events(self.strategy_id, events)
        self._ids = ids  # only after commit: a rolled-back insert's pk must not be remembered
        if booked:
            self._log_fills(booked, {ids[o.client_order_id]: o.symbol for o in orders})

    def _log_fills(self, booked: Sequence[Fill], symbols: dict[int, str]) -> None:
        """One line per fill, after it is committed: a fill booked again on a later reconcile is not logged twice.
        `symbols`: order pk → symbol of the orders saved with the fills (the others are read)."""
        unknown = {f.order_id for f in booked} - symbols.keys()
        if unknown:
            symbols = {**symbols, **dict(Order.objects.filter(pk__in=unknown).values_list("pk", "symbol"))}
        for fill in booked:
            fee = f", fee {plain_number(fill.fee)} {fill.fee_currency}" if fill.fee else ""
            log.info(
                "strategy %s: %s filled: %s %s at %s%s",
                self.strategy_id,
                fill.side,
                plain_number(fill.amount),
                symbols.get(fill.order_id, ""),
                plain_number(fill.price),
                fee,
            )

    def _save_orders(self, orders: Sequence[OrderRecord], ids: dict[str, int]) -> None:
        now = timezone.now()
        new = []
        for order in orders:
            values: dict[str, Any] = {
                "exchange_order_id": order.exchange_order_id,
                "status": str(order.status),
                "filled": order.filled,
                "cost": order.cost,
                "average_price": order.average_price,
                "fee": order.fee,
                "fee_currency": order.fee_currency,
                "error": order.error[:500],
                "closed_at": order.closed_at,
            }
            pk = ids.get(order.client_order_id)
            if pk is not None:
                Order.objects.filter(pk=pk).update(updated_at=now, **values)
                continue
            new.append(
                Order(
                    strategy_id=self.strategy_id,
                    client_order_id=order.client_order_id,
                    symbol=order.symbol,
                    side=str(order.side),
                    type=str(order.type),
                    role=str(order.role),
                    price=order.price,
                    amount=order.amount,
                    parent_id=ids[order.parent] if order.parent else None,
                    **values,
                )
            )
        if new:
            Order.objects.bulk_create(new)
            ids.update((o.client_order_id, o.pk) for o in new if o.pk is not None)  # MariaDB, SQLite: RETURNING
            unnumbered = [o.client_order_id for o in new if o.pk is None]
            if unnumbered:
                ids.update(Order.objects.filter(client_order_id__in=unnumbered).values_list("client_order_id", "pk"))

    def _save_fills(self, fills: Sequence[FillRecord], ids: dict[str, int]) -> list[Fill]:
        order_pks = {ids[f.client_order_id] for f in fills}
        seen = set(Fill.objects.filter(order__in=order_pks).values_list("order_id", "trade_id"))
        new = [
            Fill(
                order_id=ids[f.client_order_id],
                strategy_id=self.strategy_id,
                side=str(f.side),
                trade_id=f.trade_id,
                price=f.price,
                amount=f.amount,
                fee=f.fee,
                fee_currency=f.fee_currency,
                executed_at=f.executed_at,
            )
            for f in fills
            if (ids[f.client_order_id], f.trade_id) not in seen
        ]
        if new:
            Fill.objects.bulk_create(new)
        return new

    def _save_lot(self, lot: Lot, ids: dict[str, int]) -> None:
        values: dict[str, Any] = {
            "strategy_id": self.strategy_id,
            "quantity": lot.quantity,
            "entry_price": lot.entry_price,
            "entry_cost": lot.entry_cost,
            "entry_fee_quote": lot.entry_fee_quote,
            "opened_at": lot.opened_at,
            "closed_at": lot.closed_at,
            "sold_quantity": lot.sold_quantity,
            "exit_proceeds": lot.exit_proceeds,
            "exit_fee_quote": lot.exit_fee_quote,
            "exit_price": lot.exit_price,
            "realized_pnl": lot.realized_pnl,
            "exit_reason": lot.exit_reason,
            # The exit order is the position's only once it closed it; a resting take-profit is found by parent.
            "exit_order_id": ids[lot.exit_client_order_id] if lot.closed_at and lot.exit_client_order_id else None,
        }
        # One engine writes a strategy's positions (its lease), so an UPDATE that finds no row means a new lot:
        # cheaper than update_or_create's savepoint, locking read and write.
        entry_order_id = ids[lot.entry_client_order_id]
        if not Position.objects.filter(entry_order_id=entry_order_id).update(**values):
            Position.objects.create(entry_order_id=entry_order_id, **values)
