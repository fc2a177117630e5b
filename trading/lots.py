"""A strategy's lots as its detail page shows them: the open ones valued at a price, with their exits and stops;
the closed ones with their result. Read from the trade record (Position, Order, Fill); no Redis, no exchange.

Unrealized PnL of an open lot = what is left of it × the price − its share of what it cost (entry cost and buy
fee, in proportion to what is left): realized PnL's formula (trading.core.types.Lot) as if the rest were sold at
the price now, before the fee of that sale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import QuerySet

from exchanges.base import ACTIVE_STATUSES, plain_number
from trading.core.types import PRICE_QUANTUM, Role
from trading.models import Fill, Order, Position

_ACTIVE = [str(s) for s in ACTIVE_STATUSES]
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Price:
    """The price open lots are valued at, and where it came from."""

    value: Decimal
    source: str  # "status": the engine's last price; "last_fill": the strategy's latest trade
    at: datetime | None


@dataclass(frozen=True)
class RiskLimits:
    """A strategy's exit rules, as its lots show them (None: off)."""

    stop_loss_pct: Decimal | None
    time_stop_hours: Decimal | None


def last_fill_price(strategy_id: int) -> Price | None:
    """The price of the strategy's latest trade, for valuing lots when no engine reports a price."""
    row = (
        Fill.objects.filter(strategy_id=strategy_id).order_by("-executed_at", "-id").values_list("price", "executed_at")
    )
    found = row.first()
    return Price(found[0], "last_fill", found[1]) if found else None


def _text(value: Decimal | None) -> str | None:
    return None if value is None else plain_number(value)


def open_lots(strategy_id: int, *, price: Price | None, limits: RiskLimits, now: datetime) -> list[dict[str, object]]:
    """Every open lot of the strategy, oldest first, with its exit order (a resting take-profit, or a stop's
    market sale in flight), its stop prices and, when there is a price, its unrealized PnL."""
    lots = list(
        Position.objects.filter(strategy_id=strategy_id, closed_at=None)
        .select_related("entry_order")
        .order_by("opened_at", "id")
    )
    exits = _active_exits(strategy_id, [lot.entry_order_id for lot in lots])
    rows = []
    for lot in lots:
        remaining = lot.quantity - lot.sold_quantity
        exit_order = exits.get(lot.entry_order_id)
        take_profit = exit_order.price if exit_order and exit_order.role == Role.TAKE_PROFIT else None
        unrealized = None
        if price is not None and lot.quantity:
            paid = (lot.entry_cost + lot.entry_fee_quote) * remaining / lot.quantity
            unrealized = (remaining * price.value - paid).quantize(PRICE_QUANTUM)
        stop_price = None
        if limits.stop_loss_pct is not None:
            # The engine sells when the price is strictly below this (trading.core.risk).
            stop_price = (lot.entry_price * (1 - limits.stop_loss_pct / HUNDRED)).quantize(PRICE_QUANTUM)
        time_stop_at = None
        if limits.time_stop_hours is not None:
            time_stop_at = lot.opened_at + timedelta(hours=float(limits.time_stop_hours))
        rows.append(
            {
                "id": lot.pk,
                "entry_order": lot.entry_order.client_order_id,
                "level_price": _text(lot.entry_order.price),
                "opened_at": lot.opened_at,
                "age_seconds": max(int((now - lot.opened_at).total_seconds()), 0),
                "quantity": _text(lot.quantity),
                "remaining": _text(remaining),
                "entry_price": _text(lot.entry_price),
                "entry_cost": _text(lot.entry_cost),
                "entry_fee_quote": _text(lot.entry_fee_quote),
                "exit_order": exit_order.client_order_id if exit_order else None,
                "exit_role": exit_order.role if exit_order else None,
                "take_profit_price": _text(take_profit),
                "stop_loss_price": _text(stop_price),
                "time_stop_at": time_stop_at,
                "unrealized_pnl": _text(unrealized),
            }
        )
    return rows


def _active_exits(strategy_id: int, entry_ids: Iterable[int]) -> dict[int, Order]:
    """entry order pk → the active exit order selling its lot (the newest, should two ever overlap)."""
    exits: dict[int, Order] = {}
    active = Order.objects.filter(strategy_id=strategy_id, status__in=_ACTIVE, parent_id__in=list(entry_ids))
    for order in active.order_by("created_at", "id").only("client_order_id", "role", "price", "parent_id"):
        assert order.parent_id is not None  # filtered on it
        exits[order.parent_id] = order
    return exits


def closed_lots(strategy_id: int) -> QuerySet[Position]:
    """The strategy's closed lots, latest closed first (to page through)."""
    return (
        Position.objects.filter(strategy_id=strategy_id, closed_at__isnull=False)
        .select_related("entry_order", "exit_order")
        .order_by("-closed_at", "-id")
    )


def closed_lot_row(lot: Position) -> dict[str, object]:
    assert lot.closed_at is not None  # closed_lots() holds closed lots only
    return {
        "id": lot.pk,
        "entry_order": lot.entry_order.client_order_id,
        "exit_order": lot.exit_order.client_order_id if lot.exit_order else None,
        "opened_at": lot.opened_at,
        "closed_at": lot.closed_at,
        "held_seconds": max(int((lot.closed_at - lot.opened_at).total_seconds()), 0),
        "quantity": _text(lot.quantity),
        "sold_quantity": _text(lot.sold_quantity),
        "entry_price": _text(lot.entry_price),
        "exit_price": _text(lot.exit_price),
        "entry_fee_quote": _text(lot.entry_fee_quote),
        "exit_fee_quote": _text(lot.exit_fee_quote),
        "realized_pnl": _text(lot.realized_pnl),
        "exit_reason": lot.exit_reason or None,
    }
