"""PositionTracker: the open lots, which exit order each has, their PnL net of fees, and the dust. Pure bookkeeping.

A lot opens when its grid buy is done (filled, or canceled after a partial fill), with the quantity actually
received: a buy fee taken in the base asset reduces the lot, a fee in quote is booked as entry fee. Exit fills
(take-profit or a market stop) add to sold_quantity and exit_proceeds; the lot closes when an exit order is
completely filled. An exit canceled part-way (a stop replacing the take-profit) leaves the lot open with what
is left, and the next exit sells the rest.

realized PnL = exit proceeds − exit fees − (entry cost + entry fee) × sold / quantity, all in quote: a lot is
charged the cost of what it sold, not of what it held (see core_types.Lot).

Dust: an exit sells whole steps, so a lot that holds a fraction of a step (a buy fee paid in the base asset
makes 0.00067 BTC into 0.00066933) closes with a rest it could not sell. That rest keeps its share of the entry
cost, out of realized PnL, and stays with its closed lot until a newly opened lot can use it: when adding all
the dust to the new lot makes the new lot's sale at least one step larger, the dust moves into the new lot
with its cost, and the closed lots it came from keep only what they sold (quantity = sold_quantity, the cost
of that). Costs are moved, never created or dropped, so Σ (entry cost + entry fee) over all lots is still
exactly what the buys paid.

Fees in a third currency (Binance's BNB discount) are recorded on the fills but not in PnL: valuing them needs
a BNB price in quote, which an engine trading one symbol does not have. The tracker totals them per currency
so that the status can say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import ROUND_CEILING, Context, Decimal

from exchanges.base import ZERO, MarketRules, OrderStatus, plain_number
from trading.core.types import PRICE_QUANTUM, FillRecord, Lot, OrderRecord

# Wide enough that a share of any cost the models can hold (40 digits) is exact before it is quantized.
_WIDE = Context(prec=80)


def _share(total: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """total × part / whole to the models' 18 places, rounded up: the cost of what was sold is never understated,
    so rounding never makes a gain."""
    return _WIDE.divide(_WIDE.multiply(total, part), whole).quantize(PRICE_QUANTUM, ROUND_CEILING, _WIDE)


def sold_basis(lot: Lot) -> tuple[Decimal, Decimal]:
    """(entry cost, entry fee) of the part of `lot` that was sold, in proportion to the quantity sold."""
    if lot.sold_quantity >= lot.quantity or not lot.quantity:
        return lot.entry_cost, lot.entry_fee_quote
    return (
        _share(lot.entry_cost, lot.sold_quantity, lot.quantity),
        _share(lot.entry_fee_quote, lot.sold_quantity, lot.quantity),
    )


def dust_basis(lot: Lot) -> tuple[Decimal, Decimal]:
    """(entry cost, entry fee) that the unsold rest of closed `lot` still carries."""
    cost_sold, fee_sold = sold_basis(lot)
    charged_all = lot.exit_proceeds - lot.exit_fee_quote - lot.entry_cost - lot.entry_fee_quote
    if lot.remaining > 0 and lot.realized_pnl == charged_all:
        # Closed before costs were prorated: its PnL already paid for the rest, which must not be charged again.
        return ZERO, ZERO
    return lot.entry_cost - cost_sold, lot.entry_fee_quote - fee_sold


class PositionTracker:
    def __init__(self, rules: MarketRules, lots: Iterable[Lot] = (), dust: Iterable[Lot] = ()) -> None:
        self.rules = rules
        self.open: dict[str, Lot] = {lot.entry_client_order_id: lot for lot in lots}
        # Closed lots with an unsold rest, by entry client id.
        self.dust: dict[str, Lot] = {lot.entry_client_order_id: lot for lot in dust if lot.remaining > 0}
        # Fees paid in neither base nor quote, per currency, since this tracker was made.
        self.unpriced_fees: dict[str, Decimal] = {}
        self._notes: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.open)

    @property
    def held(self) -> Decimal:
        """Base quantity the open lots still hold."""
        return sum((lot.remaining for lot in self.open.values()), ZERO)

    @property
    def dust_quantity(self) -> Decimal:
        """Base quantity the closed lots left unsold."""
        return sum((lot.remaining for lot in self.dust.values()), ZERO)

    def notes(self) -> tuple[str, ...]:
        """What the status should say about the dust and about fees the PnL leaves out."""
        if self._notes is None:
            notes = []
            if self.dust:
                quantity = self.dust_quantity
                cost = sum((sum(dust_basis(lot), ZERO) for lot in self.dust.values()), ZERO)
                notes.append(
                    f"dust: {plain_number(quantity)} {self.rules.base} left unsold by {len(self.dust)} closed lot(s), "
                    f"below the step {plain_number(self.rules.step_size)}; its cost {plain_number(cost)} "
                    f"{self.rules.quote} is not in realized PnL until a later lot sells it"
                )
            for currency, fee in sorted(self.unpriced_fees.items()):
                notes.append(
                    f"fees paid in {currency} ({plain_number(fee)} {currency} since start) are not in realized PnL: "
                    f"the engine has no {currency} price in {self.rules.quote} to value them"
                )
            self._notes = tuple(notes)
        return self._notes

    def _fee_in_quote(self, fill: FillRecord) -> Decimal:
        if fill.fee_currency == self.rules.base:
            return fill.fee * fill.price
        if fill.fee_currency in (self.rules.quote, ""):
            return fill.fee
        self._unpriced(fill.fee_currency, fill.fee)
        return ZERO

    def _unpriced(self, currency: str, fee: Decimal) -> None:
        if fee:
            self.unpriced_fees[currency] = self.unpriced_fees.get(currency, ZERO) + fee
            self._notes = None

    def received(self, buy: OrderRecord) -> Decimal:
        """The base a buy has delivered so far: its fills, less a fee taken from them."""
        return buy.filled - buy.fee if buy.fee_currency == self.rules.base else buy.filled

    def open_lot(self, buy: OrderRecord) -> list[Lot]:
        """The lot of a finished grid buy, from the buy's totals over all its fills; then the closed lots whose
        dust it took, if it took any (each changed lot must be journaled)."""
        assert buy.price is not None
        quantity, cost, fee_quote = buy.filled, buy.cost, ZERO
        if buy.fee_currency == self.rules.base:
            quantity = self.received(buy)
            # Valued at the average price and taken out of the cost, so that entry cost + entry fee is exactly
            # what the quote balance paid, however the average rounds.
            fee_quote = (buy.fee * buy.cost / buy.filled).quantize(PRICE_QUANTUM) if buy.filled else ZERO
            cost -= fee_quote
        elif buy.fee_currency in (self.rules.quote, ""):
            fee_quote = buy.fee
        else:
            self._unpriced(buy.fee_currency, buy.fee)
        lot = Lot(
            entry_client_order_id=buy.client_order_id,
            level_price=buy.price,
            quantity=quantity,
            entry_cost=cost,
            entry_fee_quote=fee_quote,
            opened_at=buy.last_fill_at or buy.created_at,
        )
        lot, donors = self._take_dust(lot)
        self.open[lot.entry_client_order_id] = lot
        return [lot, *donors]

    def _take_dust(self, lot: Lot) -> tuple[Lot, list[Lot]]:
        """Move all the dust into `lot` when that makes its sale at least one step larger."""
        if not self.dust:
            return lot, []
        step_down = self.rules.amount_down
        if step_down(lot.quantity + self.dust_quantity) == step_down(lot.quantity):
            return lot, []
        quantity, cost, fee = lot.quantity, lot.entry_cost, lot.entry_fee_quote
        donors = []
        for closed in self.dust.values():
            dust_cost, dust_fee = dust_basis(closed)
            quantity += closed.remaining
            cost += dust_cost
            fee += dust_fee
            donors.append(
                replace(
                    closed,
                    quantity=closed.sold_quantity,
                    entry_cost=closed.entry_cost - dust_cost,
                    entry_fee_quote=closed.entry_fee_quote - dust_fee,
                )
            )
        self.dust.clear()
        self._notes = None
        return replace(lot, quantity=quantity, entry_cost=cost, entry_fee_quote=fee), donors

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
            cost_sold, fee_sold = sold_basis(lot)
            lot = replace(
                lot,
                exit_client_order_id=order.client_order_id,
                closed_at=order.last_fill_at or now,
                realized_pnl=proceeds - fees - cost_sold - fee_sold,
                exit_reason=str(order.role),
            )
            del self.open[lot.entry_client_order_id]
            if lot.remaining > 0:
                self.dust[lot.entry_client_order_id] = lot
                self._notes = None
            return lot
        if not order.is_active and lot.exit_client_order_id == order.client_order_id:
            lot = replace(lot, exit_client_order_id=None)
        self.open[lot.entry_client_order_id] = lot
        return lot
