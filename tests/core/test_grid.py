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
    # 10.2 / 29400 = 0.000346… → 0.00034, worth 9.996 USDT < 10: only level 2 is refused.
    assert [lv.index for lv in ladder.levels] == [1, 3]
    assert len(ladder.skipped) == 1
    assert ladder.skipped[0].startswith("level 2 at 29400.00: notional 9.996")
    assert "minimum notional 10 USDT" in ladder.skipped[0]


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
