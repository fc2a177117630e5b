"""GridStrategy: the pure decisions of a grid — where the buys go, where each take-profit goes, when to trail up.

No I/O. Rounding follows the exchange's filters and always favours the trader's intent:
buy prices round DOWN to the tick (never pay more than the level), take-profit prices round UP (never sell below
the target), amounts round DOWN to the step (never spend more than `order_size_quote`, never sell more than held).

A level is placed only when both halves of its round trip would pass the market's rules. It is skipped, with a
reason that the engine puts in its status (never silently), when its price is outside the market's
[min_price, max_price]; when it rounds to the price of the level before it (the spacing is below the tick: the
two collapse into one order); when its buy is below the min amount or min notional; or when the lot it buys could
not be sold at its take-profit. That last check assumes the worst case: the buy fee taken from the base received
(as Binance does without BNB) at the market's higher fee rate, the rest rounded down to the step, which must
still meet the min amount and the min notional at the take-profit price. A reason for a size problem names the
smallest order size that would place the level.

A take-profit sells at max(entry price, the lot's own buy price) × (1 + sell_offset%): a lot that absorbed cheaper
dust from earlier lots (trading.core.positions) has a blended entry price below its buy, and must still not sell
below the level's target. A take-profit above max_price is lowered to max_price only while selling there still
covers the round trip's fees; otherwise the lot gets a reason instead of a take-profit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from exchanges.base import ZERO, MarketRules, plain_number
from trading.core.types import EngineConfig, Lot

HUNDRED = Decimal(100)
# order_size_quote's precision (strategies.models): a suggested size is rounded up to it, so that it still works.
ORDER_SIZE_QUANTUM = Decimal("0.00000001")


@dataclass(frozen=True, slots=True)
class Level:
    index: int  # 1 = nearest the anchor
    price: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Ladder:
    anchor: Decimal
    levels: tuple[Level, ...]  # nearest first, each at its own price
    skipped: tuple[str, ...]  # one reason per level that cannot be placed


class GridStrategy:
    def __init__(self, config: EngineConfig, rules: MarketRules) -> None:
        self.config = config
        self.rules = rules
        self._step = config.buy_offset_pct / HUNDRED
        self._take_profit = 1 + config.sell_offset_pct / HUNDRED
        self._reprice = 1 + config.reprice_threshold_pct / HUNDRED
        # A buy rests as a maker but fills as a taker when the price is past it on placement, and so does a
        # take-profit: the higher rate is the worst case for both.
        self._fee = max(rules.maker_fee, rules.taker_fee)
        self._ladder: Ladder | None = None

    def ladder(self, anchor: Decimal) -> Ladder:
        """Buys at anchor × (1 − buy_offset% × i), i = 1..grid_levels, each worth order_size_quote at most."""
        if self._ladder is not None and self._ladder.anchor == anchor:
            return self._ladder  # the anchor changes only on a reprice, and the ladder is asked for every tick
        levels: list[Level] = []
        skipped: list[str] = []
        previous = (0, ZERO)  # (index, price) of the level before: prices fall with i, so equal ones are adjacent
        for i in range(1, self.config.grid_levels + 1):
            price = self.rules.price_down(anchor * (1 - self._step * i))
            if price <= 0:
                skipped.append(f"level {i}: price {price:f} rounds to zero or below")
                continue
            if price == previous[1]:
                # Two orders at one price would be one level bought twice: the lower level collapses into it.
                skipped.append(
                    f"level {i} at {price:f}: collapsed into level {previous[0]}, the spacing "
                    f"{plain_number(anchor * self._step)} is below the tick {plain_number(self.rules.tick_size)}"
                )
                continue
            previous = (i, price)
            outside = self.rules.price_outside(price)
            if outside:
                skipped.append(f"level {i} at {price:f}: {outside}")
                continue
            amount = self.rules.amount_down(self.config.order_size_quote / price)
            problem = self._round_trip_problem(price, amount)
            if problem:
                skipped.append(f"level {i} at {price:f}: {problem}; {self._size_hint(price)}")
                continue
            levels.append(Level(i, price, amount))
        self._ladder = Ladder(anchor, tuple(levels), tuple(skipped))
        return self._ladder

    def take_profit_price(self, buy_price: Decimal) -> Decimal:
        """buy_price × (1 + sell_offset%), rounded up to the tick."""
        return self.rules.price_up(buy_price * self._take_profit)

    def take_profit(self, lot: Lot) -> tuple[Decimal, Decimal, str | None]:
        """(price, amount) of `lot`'s take-profit, and why it can have none (then the amount is not to be sent).

        The price is take_profit_price(max(entry price, the lot's buy price)); above the market's max_price it
        becomes max_price when selling there at the higher fee rate still returns at least what the lot cost with
        its buy fee."""
        paid = lot.entry_cost + lot.entry_fee_quote
        target, problem = self._exit_price(
            max(lot.entry_price, lot.level_price), paid / lot.quantity if lot.quantity else lot.level_price
        )
        if problem:
            return target, ZERO, problem
        amount, problem = self.sell_amount(lot.remaining, target)
        return target, amount, problem

    def _exit_price(self, basis: Decimal, paid_per_unit: Decimal) -> tuple[Decimal, str | None]:
        """The take-profit price of a lot bought at `basis` that paid `paid_per_unit` (fee included) per unit
        held, or the target and why the market's max_price leaves no price that covers the fees."""
        target = self.take_profit_price(basis)
        highest = self.rules.max_price
        if highest and target > highest:
            highest = self.rules.price_down(highest)
            break_even = self.rules.price_up(paid_per_unit / (1 - self._fee))
            if highest < break_even:
                return (
                    target,
                    f"take-profit {target:f} is above the maximum price {self.rules.max_price:f}, which is below "
                    f"the break-even {break_even:f} after fees",
                )
            target = highest
        return target, None

    def _round_trip_problem(self, price: Decimal, amount: Decimal) -> str | None:
        """Why a buy of `amount` at `price` would be refused, or the lot it buys could not be sold at its
        take-profit after the worst-case buy fee (taken from the base received), or None."""
        problem = self.rules.check(price, amount)
        if problem:
            return problem
        # What the lot pays per unit it holds: price × amount for amount × (1 − fee).
        target, problem = self._exit_price(price, price / (1 - self._fee))
        if problem:
            return problem
        kept = amount * (1 - self._fee)
        sold, problem = self.sell_amount(kept, target)
        if problem:
            return (
                f"its take-profit could not sell: {plain_number(amount)} {self.rules.base} bought, less the "
                f"{plain_number(self._fee * HUNDRED)}% fee taken in {self.rules.base}, leaves {plain_number(sold)} to "
                f"sell at {target:f}: {problem}"
            )
        return None

    def _size_hint(self, price: Decimal) -> str:
        size = self.smallest_order_size(price)
        if size is None:
            return "no order size can place this level"
        return f"the smallest order size that places it is {plain_number(size)} {self.rules.quote}"

    def smallest_order_size(self, price: Decimal) -> Decimal | None:
        """The smallest order_size_quote (at its 8 decimals) whose buy at `price` passes the market's minimums and
        whose lot, after the worst-case fee, can be sold at its take-profit; None when no size can (the
        take-profit is above a max_price below break-even)."""
        target, problem = self._exit_price(price, price / (1 - self._fee))
        if problem:
            return None
        rules = self.rules
        sold = max(self._steps_up(rules.min_amount), self._steps_up(rules.min_notional / target), rules.step_size)
        bought = max(
            self._steps_up(sold / (1 - self._fee)),
            self._steps_up(rules.min_amount),
            self._steps_up(rules.min_notional / price),
        )
        # The division is rounded to the context's precision: step up until the rest after the fee sells `sold`.
        while rules.amount_down(bought * (1 - self._fee)) < sold:
            bought += rules.step_size
        # amount_down(size / price) ≥ bought exactly when size ≥ bought × price; rounding the size up keeps that.
        return (bought * price).quantize(ORDER_SIZE_QUANTUM, ROUND_CEILING)

    def _steps_up(self, amount: Decimal) -> Decimal:
        step = self.rules.step_size
        return (amount / step).to_integral_value(ROUND_CEILING) * step

    def should_reprice(self, anchor: Decimal, price: Decimal) -> bool:
        """Trail the ladder up when the price is strictly above anchor × (1 + reprice_threshold%).

        At exactly the threshold the ladder stays. The ladder never trails down: falling prices fill it.
        """
        return price > self.reprice_above(anchor)

    def reprice_above(self, anchor: Decimal) -> Decimal:
        """The price the ladder anchored at `anchor` trails up from (strictly above it)."""
        return anchor * self._reprice

    def sell_amount(self, quantity: Decimal, price: Decimal) -> tuple[Decimal, str | None]:
        """The amount of `quantity` that can be sold at `price` (rounded down to the step), or why none can."""
        amount = self.rules.amount_down(quantity)
        return amount, self.rules.check(price, amount)
