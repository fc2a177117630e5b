from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal as D

from exchanges.markets import market_rules
from tests.core.harness import make_config
from trading.core.grid import GridStrategy
from trading.core.types import Lot

BTC = market_rules("BTC/USDT")
ETHBTC = market_rules("ETH/BTC")
T0 = datetime(2022, 5, 5, tzinfo=UTC)


def test_ladder_is_price_times_one_minus_offset_times_i_rounded_down():
    grid = GridStrategy(make_config(grid_levels=3), BTC)
    ladder = grid.ladder(D("30000"))
    assert [(lv.index, lv.price, lv.amount) for lv in ladder.levels] == [
        (1, D("29700.00"), D("0.00067")),  # 20 / 29700 = 0.000673… → down to the step
        (2, D("29400.00"), D("0.00068")),
        (3, D("29100.00"), D("0.00068")),
    ]
    assert ladder.skipped == ()


def test_buy_price_rounds_down_to_the_tick():
    grid = GridStrategy(make_config(grid_levels=1), BTC)
    assert grid.ladder(D("30123.45")).levels[0].price == D("29822.21")  # 29822.2155


def test_take_profit_is_buy_price_plus_sell_offset_rounded_up():
    grid = GridStrategy(make_config(sell_offset_pct=D(1)), BTC)
    assert grid.take_profit_price(D("29700.00")) == D("29997.00")
    assert grid.take_profit_price(D("29822.21")) == D("30120.44")  # 30120.4321


def test_small_priced_pair_uses_its_own_tick_and_step():
    config = make_config(
        symbol="ETH/BTC", grid_levels=1, buy_offset_pct=D(2), sell_offset_pct=D("1.5"), order_size_quote=D("0.01")
    )
    grid = GridStrategy(config, ETHBTC)
    level = grid.ladder(D("0.071234")).levels[0]
    assert (level.price, level.amount) == (D("0.069809"), D("0.1432"))  # 0.06980932; 0.01 / 0.069809 = 0.14324…
    assert grid.take_profit_price(level.price) == D("0.070857")  # 0.070856135


def test_levels_below_min_notional_are_skipped_with_a_reason():
    grid = GridStrategy(make_config(grid_levels=3, order_size_quote=D("10.2")), BTC)
    ladder = grid.ladder(D("30000"))
    # 10.2 / 29400 = 0.000346… → 0.00034, worth 9.996 USDT < 10: level 2's buy is refused. (Levels 1 and 3 buy
    # enough, but could not sell what is left after the fee: see the next test.)
    assert ladder.levels == ()
    assert ladder.skipped[1] == (
        "level 2 at 29400.00: notional 9.996 USDT (0.00034 × 29400) is below the minimum notional 10 USDT; "
        "the smallest order size that places it is 10.29 USDT"
    )


def test_a_level_whose_lot_could_not_sell_at_its_take_profit_after_the_fee_is_skipped_naming_the_size_that_works():
    # 10.4 USDT buys 0.00035 BTC at 29100.00 (10.185 USDT, a valid buy). Binance takes the 0.1 % fee from the
    # BTC received: 0.00034965 is left, 0.00034 in whole steps, worth 9.99 USDT at the take-profit 29391.00.
    ladder = GridStrategy(make_config(grid_levels=3, order_size_quote=D("10.4")), BTC).ladder(D("30000"))
    assert [lv.index for lv in ladder.levels] == [1, 2]
    assert ladder.skipped == (
        "level 3 at 29100.00: its take-profit could not sell: 0.00035 BTC bought, less the 0.1% fee taken in BTC, "
        "leaves 0.00034 to sell at 29391.00: notional 9.99294 USDT (0.00034 × 29391) is below the minimum notional "
        "10 USDT; the smallest order size that places it is 10.476 USDT",
    )
    # 10.476 / 29100 = 0.00036 BTC; after the fee 0.00035964 → 0.00035, worth 10.28685 USDT at 29391.00
    just_enough = GridStrategy(make_config(grid_levels=3, order_size_quote=D("10.476")), BTC).ladder(D("30000"))
    assert [(lv.index, lv.amount) for lv in just_enough.levels][2] == (3, D("0.00036"))
    less = GridStrategy(make_config(grid_levels=3, order_size_quote=D("10.47599999")), BTC).ladder(D("30000"))
    assert [lv.index for lv in less.levels] == [1, 2]


def test_the_smallest_order_size_covers_the_higher_of_the_maker_and_taker_fee():
    # At a 0.2 % taker fee 0.00036 BTC keeps 0.00035928 → 0.00035 still; 0.00035 BTC would keep only 0.00034.
    grid = GridStrategy(make_config(), replace(BTC, taker_fee=D("0.002")))
    assert grid.smallest_order_size(D("29100.00")) == D("10.476")
    # Without fees the 0.00035 BTC that sell for 10 USDT at 29391.00 are all the level needs.
    assert GridStrategy(make_config(), replace(BTC, maker_fee=D(0), taker_fee=D(0))).smallest_order_size(
        D("29100.00")
    ) == D("10.185")


def test_levels_closer_than_a_tick_collapse_into_one_order_and_say_so():
    # A fiat pair: 0.05 % of 1.0843 is 0.00054, below the tick 0.001, so levels share prices after rounding.
    eur = replace(BTC, symbol="EUR/USDT", base="EUR", tick_size=D("0.001"), step_size=D("0.1"), min_amount=D("0.1"))
    grid = GridStrategy(make_config(symbol="EUR/USDT", grid_levels=5, buy_offset_pct=D("0.05")), eur)
    ladder = grid.ladder(D("1.0843"))
    # 1.08375785 → 1.083; 1.0832157 → 1.083; 1.08267355 → 1.082; 1.0821314 → 1.082; 1.08158925 → 1.081
    assert [(lv.index, lv.price) for lv in ladder.levels] == [(1, D("1.083")), (3, D("1.082")), (5, D("1.081"))]
    assert ladder.skipped == (
        "level 2 at 1.083: collapsed into level 1, the spacing 0.00054215 is below the tick 0.001",
        "level 4 at 1.082: collapsed into level 3, the spacing 0.00054215 is below the tick 0.001",
    )


def test_order_size_at_exactly_min_notional_is_skipped_because_the_amount_rounds_down():
    ladder = GridStrategy(make_config(grid_levels=2, order_size_quote=D(10)), BTC).ladder(D("30000"))
    assert ladder.levels == ()
    assert len(ladder.skipped) == 2


def test_levels_below_min_amount_are_skipped_with_a_reason():
    ladder = GridStrategy(make_config(symbol="ETH/BTC", grid_levels=1, order_size_quote=D("0.000005")), ETHBTC).ladder(
        D("0.07")
    )
    assert ladder.levels == ()
    assert "below the minimum amount 0.0001 ETH" in ladder.skipped[0]


def test_reprice_only_strictly_past_the_threshold():
    grid = GridStrategy(make_config(reprice_threshold_pct=D(1)), BTC)
    assert not grid.should_reprice(D("30000"), D("30300.00"))  # exactly +1 %: the ladder stays
    assert grid.should_reprice(D("30000"), D("30300.01"))
    assert not grid.should_reprice(D("30000"), D("25000"))  # never trails down


def test_sell_amount_rounds_down_and_explains_an_unsellable_rest():
    grid = GridStrategy(make_config(), BTC)
    assert grid.sell_amount(D("0.000679"), D("30000")) == (D("0.00067"), None)
    amount, problem = grid.sell_amount(D("0.00002"), D("30000"))
    assert amount == D("0.00002")
    assert problem is not None
    assert "minimum notional" in problem


# --- the market's price range -----------------------------------------------------------------------------------------
def lot_bought_at(price: str, quantity: str = "0.00067") -> Lot:
    cost = D(price) * D(quantity)
    return Lot("ab7-1", D(price), D(quantity), cost, (cost * D("0.001")).quantize(D("1e-8")), T0)


def test_levels_below_the_min_price_are_skipped_with_a_reason():
    grid = GridStrategy(make_config(grid_levels=3), replace(BTC, min_price=D("29500")))
    ladder = grid.ladder(D("30000"))
    assert [lv.price for lv in ladder.levels] == [D("29700.00")]
    assert ladder.skipped == (
        "level 2 at 29400.00: below the minimum price 29500",
        "level 3 at 29100.00: below the minimum price 29500",
    )


def test_levels_above_the_max_price_are_skipped_with_a_reason():
    grid = GridStrategy(make_config(grid_levels=2), replace(BTC, max_price=D("29500")))
    ladder = grid.ladder(D("30000"))
    assert [lv.price for lv in ladder.levels] == [D("29400.00")]
    assert ladder.skipped == ("level 1 at 29700.00: above the maximum price 29500",)


def test_a_take_profit_within_the_price_range_is_the_target():
    grid = GridStrategy(make_config(sell_offset_pct=D(1)), replace(BTC, max_price=D("29997.00")))
    assert grid.take_profit(lot_bought_at("29700.00")) == (D("29997.00"), D("0.00067"), None)


def test_a_take_profit_above_the_max_price_is_lowered_to_it_when_that_still_covers_the_fees():
    grid = GridStrategy(make_config(sell_offset_pct=D(1)), replace(BTC, max_price=D("29800.00")))
    # break-even: 29700 × 1.001 / (1 − 0.001) = 29759.459…, so selling at 29800 still gains
    assert grid.take_profit(lot_bought_at("29700.00")) == (D("29800.00"), D("0.00067"), None)


def test_a_take_profit_above_a_max_price_below_break_even_is_refused_with_a_reason():
    grid = GridStrategy(make_config(sell_offset_pct=D(1)), replace(BTC, max_price=D("29759.45")))
    target, _, problem = grid.take_profit(lot_bought_at("29700.00"))
    assert target == D("29997.00")
    assert problem == (
        "take-profit 29997.00 is above the maximum price 29759.45, which is below the break-even 29759.46 after fees"
    )
    lowered = GridStrategy(make_config(sell_offset_pct=D(1)), replace(BTC, max_price=D("29759.46")))
    assert lowered.take_profit(lot_bought_at("29700.00"))[0] == D("29759.46")  # the first tick that loses nothing


def test_a_take_profit_worth_less_than_the_min_notional_at_its_price_is_refused_with_a_reason():
    # 0.0003 BTC is above the minimum amount, but at the take-profit 30300.00 it is worth 9.09 USDT, under 10
    grid = GridStrategy(make_config(sell_offset_pct=D(1)), BTC)
    target, amount, problem = grid.take_profit(lot_bought_at("30000.00", quantity="0.0003"))
    assert (target, amount) == (D("30300.00"), D("0.00030"))
    assert problem == "notional 9.09 USDT (0.0003 × 30300) is below the minimum notional 10 USDT"
