"""GridStrategy: the pure decisions of a grid — where the buys go, where each take-profit goes, when to trail up.

No I/O. Rounding follows the exchange's filters and always favours the trader's intent:
buy prices round DOWN to the tick (never pay more than the level), take-profit prices round UP (never sell below
the target), amounts round DOWN to the step (never spend more than `order_size_quote`, never sell more than held).
A level whose rounded amount is below the market's min amount, or whose price × amount is below its min
notional, or whose price is outside the market's [min_price, max_price], is skipped with a reason that the
engine puts in its status — never silently. A take-profit above max_price is lowered to max_price only while
selling there still covers the round trip's fees; otherwise the lot gets a reason instead of a take-profit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from exchanges.base import ZERO, MarketRules
from trading.core.types import EngineConfig, Lot

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Level:
    index: int  # 1 = nearest the anchor
    price: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Ladder:
    anchor: Decimal
    levels: tuple[Level, ...]  # nearest first
    skipped: tuple[str, ...]  # one reason per level that cannot be placed


class GridStrategy:
    def __init__(self, config: EngineConfig, rules: MarketRules) -> None:
        self.config = config
        self.rules = rules
        self._step = config.buy_offset_pct / HUNDRED
        self._take_profit = 1 + config.sell_offset_pct / HUNDRED
        self._reprice = 1 + config.reprice_threshold_pct / HUNDRED
        # A take-profit rests as a maker but fills as a taker when the price is past it on placement.
        self._exit_fee = max(rules.maker_fee, rules.taker_fee)
        self._ladder: Ladder | None = None

    def ladder(self, anchor: Decimal) -> Ladder:
        """Buys at anchor × (1 − buy_offset% × i), i = 1..grid_levels, each worth order_size_quote at most."""
        if self._ladder is not None and self._ladder.anchor == anchor:
            return self._ladder  # the anchor changes only on a reprice, and the ladder is asked for every tick
        levels: list[Level] = []
        skipped: list[str] = []
        for i in range(1, self.config.grid_levels + 1):
            price = self.rules.price_down(anchor * (1 - self._step * i))
            if price <= 0:
                skipped.append(f"level {i}: price {price:f} rounds to zero or below")
                continue
            outside = self.rules.price_outside(price)
            if outside:
                skipped.append(f"level {i} at {price:f}: {outside}")
                continue
            amount = self.rules.amount_down(self.config.order_size_quote / price)
            problem = self.rules.check(price, amount)
            if problem:
                skipped.append(f"level {i} at {price:f}: {problem}")
                continue
            levels.append(Level(i, price, amount))
        self._ladder = Ladder(anchor, tuple(levels), tuple(skipped))
        return self._ladder

    def take_profit_price(self, buy_price: Decimal) -> Decimal:
        """buy_price × (1 + sell_offset%), rounded up to the tick."""
        return self.rules.price_up(buy_price * self._take_profit)

    def take_profit(self, lot: Lot) -> tuple[Decimal, Decimal, str | None]:
        """(price, amount) of `lot`'s take-profit, and why it can have none (then the amount is not to be sent).

        The price is take_profit_price(entry price); above the market's max_price it becomes max_price when
        selling there at the higher fee rate still returns at least what the lot cost with its buy fee."""
        target = self.take_profit_price(lot.entry_price)
        highest = self.rules.max_price
        if highest and target > highest:
            highest = self.rules.price_down(highest)
            break_even = self.rules.price_up(
                (lot.entry_cost + lot.entry_fee_quote) / lot.quantity / (1 - self._exit_fee)
            )
            if highest < break_even:
                return (
                    target,
                    ZERO,
                    f"take-profit {target:f} is above the maximum price {self.rules.max_price:f}, which is below "
                    f"the break-even {break_even:f} after fees",
                )
            target = highest
        amount, problem = self.sell_amount(lot.remaining, target)
        return target, amount, problem

    def should_reprice(self, anchor: Decimal, price: Decimal) -> bool:
        """Trail the ladder up when the price is strictly above anchor × (1 + reprice_threshold%).

        At exactly the threshold the ladder stays. The ladder never trails down: falling prices fill it.
        """
        return price > anchor * self._reprice

    def sell_amount(self, quantity: Decimal, price: Decimal) -> tuple[Decimal, str | None]:
        """The amount of `quantity` that can be sold at `price` (rounded down to the step), or why none can."""
        amount = self.rules.amount_down(quantity)
        return amount, self.rules.check(price, amount)
