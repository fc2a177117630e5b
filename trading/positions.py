"""PositionTracker: the open lots, which exit order each has, and their PnL net of fees. Pure bookkeeping.

A lot opens when its grid buy is done (filled, or canceled after a partial fill), with the quantity actually
received: a buy fee taken in the base asset reduces the lot, a fee in quote is booked as entry fee. Exit fills
(take-profit or a market stop) add to sold_quantity and exit_proceeds; the lot closes when an exit order is
completely filled. An exit canceled part-way (a stop replacing the take-profit) leaves the lot open with what
is left, and the next exit sells the rest.

realized PnL = exit proceeds − exit fees − entry cost − entry fee, all in quote (see core_types.Lot).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from exchanges.base import ZERO, MarketRules, OrderStatus
from trading.core_types import PRICE_QUANTUM, FillRecord, Lot, OrderRecord


class PositionTracker:
    def __init__(self, rules: MarketRules, lots: Iterable[Lot] = ()) -> None:
        self.rules = rules
        self.open: dict[str, Lot] = {lot.entry_client_order_id: lot for lot in lots}

    def __len__(self) -> int:
        return len(self.open)

    @property
    def held(self) -> Decimal:
        """Base quantity the open lots still hold."""
        return sum((lot.remaining for lot in self.open.values()), ZERO)

    def _fee_in_quote(self, fill: FillRecord) -> Decimal:
        if fill.fee_currency == self.rules.base:
            return fill.fee * fill.price
        if fill.fee_currency in (self.rules.quote, ""):
            return fill.fee
        return ZERO  # a fee in a third currency (BNB) has no price here; it is still recorded on the fill

    def open_lot(self, buy: OrderRecord) -> Lot:
        """The lot of a finished grid buy, from the buy's totals over all its fills."""
        assert buy.price is not None
        quantity, cost, fee_quote = buy.filled, buy.cost, ZERO
        if buy.fee_currency == self.rules.base:
            quantity = buy.filled - buy.fee
            # Valued at the average price and taken out of the cost, so that entry cost + entry fee is exactly
            # what the quote balance paid, however the average rounds.
            fee_quote = (buy.fee * buy.cost / buy.filled).quantize(PRICE_QUANTUM) if buy.filled else ZERO
            cost -= fee_quote
        elif buy.fee_currency in (self.rules.quote, ""):
            fee_quote = buy.fee
        lot = Lot(
            entry_client_order_id=buy.client_order_id,
            level_price=buy.price,
            quantity=quantity,
            entry_cost=cost,
            entry_fee_quote=fee_quote,
            opened_at=buy.last_fill_at or buy.created_at,
        )
        self.open[lot.entry_client_order_id] = lot
        return lot

    def set_exit(self, lot: Lot, client_order_id: str | None) -> Lot:
        lot = replace(lot, exit_client_order_id=client_order_id)
        self.open[lot.entry_client_order_id] = lot
        return lot

    def apply_exit(self, lot: Lot, order: OrderRecord, fills: Sequence[FillRecord], now: datetime) -> Lot:
        """Book exit fills on `lot`; close it when `order` is completely filled, free it for a new exit when
        `order` ended otherwise."""
        sold = lot.sold_quantity + sum((f.amount for f in fills), ZERO)
        proceeds = lot.exit_proceeds + sum((f.price * f.amount for f in fills), ZERO)
        fees = lot.exit_fee_quote + sum((self._fee_in_quote(f) for f in fills), ZERO)
        lot = replace(lot, sold_quantity=sold, exit_proceeds=proceeds, exit_fee_quote=fees)
        if order.status is OrderStatus.FILLED:
            lot = replace(
                lot,
                exit_client_order_id=order.client_order_id,
                closed_at=order.last_fill_at or now,
                realized_pnl=proceeds - fees - lot.entry_cost - lot.entry_fee_quote,
                exit_reason=str(order.role),
            )
            del self.open[lot.entry_client_order_id]
            return lot
        if not order.is_active and lot.exit_client_order_id == order.client_order_id:
            lot = replace(lot, exit_client_order_id=None)
        self.open[lot.entry_client_order_id] = lot
        return lot
