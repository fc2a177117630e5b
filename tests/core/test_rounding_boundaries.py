"""Each market rule and rounding step at its exact boundary, where an off-by-one (< for <=) would slip through:
the rule decides whether an order is sent at all, and at what price."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal as D

from exchanges.base import ZERO
from exchanges.markets import market_rules
from tests.core.harness import make_config
from trading.core.grid import GridStrategy
from trading.core.types import Lot

BTC = market_rules("BTC/USDT")  # tick 0.01, step 0.00001, min notional 10
T0 = datetime(2022, 5, 5, tzinfo=UTC)


def test_an_amount_of_exactly_the_maximum_passes_and_one_step_more_is_refused():
    rules = replace(BTC, max_amount=D("0.001"))
    assert rules.check(D("30000"), D("0.001")) is None
    assert rules.check(D("30000"), D("0.00101")) == "amount 0.00101 is above the maximum amount 0.001 BTC"


def test_zero_is_never_a_valid_amount_or_price():
    assert BTC.check_steps(D("30000.00"), D("0")) == "amount 0 is not a positive multiple of the step size 0.00001"
    assert BTC.check_steps(D("0"), D("0.001")) == "price 0 is not a positive multiple of the tick size 0.01"


def test_a_price_of_exactly_the_minimum_or_maximum_passes_and_beyond_either_is_refused():
    rules = replace(BTC, min_price=D("100.00"), max_price=D("200.00"))
    assert rules.check_steps(D("100.00"), D("0.001")) is None
    assert rules.check_steps(D("200.00"), D("0.001")) is None
    assert rules.check_steps(D("99.99"), D("0.001")) == "price 99.99 is below the minimum price 100"
    assert rules.check_steps(D("200.01"), D("0.001")) == "price 200.01 is above the maximum price 200"
    unbounded = replace(BTC, min_price=D("100.00"), max_price=ZERO)
    assert unbounded.check_steps(D("99.99"), D("0.001")) == "price 99.99 is below the minimum price 100"
    assert unbounded.check_steps(D("1000000.00"), D("0.001")) is None  # a max price of 0 means none


def test_levels_that_round_to_zero_or_below_are_each_skipped_with_a_reason():
    rules = replace(BTC, min_price=ZERO)  # nothing but the rounding itself stops a level at zero
    grid = GridStrategy(make_config(grid_levels=3, buy_offset_pct=D(30), order_size_quote=D(10)), rules)
    ladder = grid.ladder(D("0.02"))  # 0.014 → 0.01; 0.008 → 0.00; 0.002 → 0.00
    assert [lv.price for lv in ladder.levels] == [D("0.01")]
    assert ladder.skipped == (
        "level 2: price 0.00 rounds to zero or below",
        "level 3: price 0.00 rounds to zero or below",
    )


def test_a_level_at_exactly_the_minimum_or_the_maximum_price_is_placed():
    config = make_config(grid_levels=2)
    assert [lv.price for lv in GridStrategy(config, replace(BTC, min_price=D("29400.00"))).ladder(D(30000)).levels] == [
        D("29700.00"),
        D("29400.00"),
    ]
    at_max = GridStrategy(config, replace(BTC, max_price=D("29700.00"))).ladder(D(30000))
    assert [lv.price for lv in at_max.levels] == [D("29400.00")]
    # 29700.00 is inside the price range, but no take-profit above it can be sent: skipped for that, not the range
    assert at_max.skipped == (
        "level 1 at 29700.00: take-profit 29997.00 is above the maximum price 29700.00, which is below the "
        "break-even 29759.49 after fees; no order size can place this level",
    )


def test_the_ladder_of_an_anchor_is_worked_out_once():
    grid = GridStrategy(make_config(grid_levels=3), BTC)
    ladder = grid.ladder(D(30000))
    assert ladder.anchor == D(30000)
    assert grid.ladder(D(30000)) is ladder
    assert grid.ladder(D(31000)).anchor == D(31000)


def test_a_take_profit_of_exactly_the_maximum_price_rests_there_even_below_break_even():
    # sell_offset 0.1 % is less than the round trip's fees (0.2 %): the target 29729.70 is below break-even, yet
    # it is the target the strategy asked for and the market allows it, so it is placed as it is.
    config = make_config(sell_offset_pct=D("0.1"))
    lot = Lot("ab7-1", D("29700.00"), D("0.00067"), D("19.899"), D("0.019899"), T0)
    grid = GridStrategy(config, replace(BTC, max_price=D("29729.70")))
    assert grid.take_profit(lot) == (D("29729.70"), D("0.00067"), None)


def test_a_price_of_zero_is_refused_even_where_the_market_sets_no_minimum():
    rules = replace(BTC, min_price=ZERO)
    assert rules.price_outside(D("0.00")) == "below the minimum price 0"
    assert rules.price_outside(D("0.01")) is None
