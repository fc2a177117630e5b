"""Rounding and filters as on Binance: BTC/USDT (tick 0.01, step 0.00001, min notional 10) and ETH/BTC
(tick 0.000001, step 0.0001, min notional 0.0001)."""

from dataclasses import replace
from decimal import Decimal as D

from exchanges.base import BelowMinimum, InvalidOrder, PriceBand, Side, plain_number
from exchanges.markets import market_rules

BTC = market_rules("BTC/USDT")
ETHBTC = market_rules("ETH/BTC")


def test_shipped_rules_match_binance_exchange_info_of_2021_10_12():
    assert (BTC.tick_size, BTC.step_size, BTC.min_amount, BTC.min_notional) == (
        D("0.01"),
        D("0.00001"),
        D("0.00001"),
        D("10"),
    )
    assert (ETHBTC.tick_size, ETHBTC.step_size, ETHBTC.min_notional) == (D("0.000001"), D("0.0001"), D("0.0001"))
    assert (BTC.base, BTC.quote, ETHBTC.base, ETHBTC.quote) == ("BTC", "USDT", "ETH", "BTC")


def test_buy_prices_round_down_and_take_profits_round_up_to_the_tick():
    assert BTC.price_down(D("29699.999")) == D("29699.99")
    assert BTC.price_up(D("29699.991")) == D("29700.00")
    assert BTC.price_up(D("29700.00")) == D("29700.00")  # already on the tick: unchanged
    assert ETHBTC.price_down(D("0.0712349")) == D("0.071234")
    assert ETHBTC.price_up(D("0.0712341")) == D("0.071235")


def test_amounts_round_down_to_the_step():
    assert BTC.amount_down(D("0.000673399")) == D("0.00067")
    assert ETHBTC.amount_down(D("1.23459")) == D("1.2345")


def test_min_notional_boundary_is_inclusive():
    # 0.00050 × 20000.00 = 10.0000000 exactly: allowed (Binance: notional >= minNotional)
    assert BTC.check(D("20000.00"), D("0.00050")) is None
    reason = BTC.check(D("19999.99"), D("0.00050"))
    assert reason is not None
    assert "below the minimum notional 10 USDT" in reason


def test_min_amount_boundary_is_inclusive():
    assert ETHBTC.check(D("1"), D("0.0001")) is None
    reason = ETHBTC.check(D("1"), D("0.00009"))
    assert reason is not None
    assert reason == "amount 0.00009 is below the minimum amount 0.0001 ETH"


def test_unaligned_numbers_are_refused_like_binance_filters():
    assert BTC.check_steps(D("30000.005"), D("0.001")) is not None
    assert BTC.check_steps(D("30000.01"), D("0.000011")) is not None
    assert BTC.check_steps(D("30000.01"), D("0.00001")) is None


def test_a_refusal_names_the_value_and_the_limit_with_the_error_binance_would_answer():
    rules = replace(BTC, max_amount=D(9000), min_price=D("0.01"), max_price=D(1000000))
    below = rules.refusal(D("29000.00"), D("0.00030"))
    assert isinstance(below, BelowMinimum)
    assert str(below) == "notional 8.7 USDT (0.0003 × 29000) is below the minimum notional 10 USDT"
    above = rules.refusal(D("29000.00"), D("9001"))
    assert isinstance(above, InvalidOrder) and not isinstance(above, BelowMinimum)
    assert str(above) == "amount 9001 is above the maximum amount 9000 BTC"
    outside = rules.refusal(D("2000000"), D("0.001"))
    assert isinstance(outside, InvalidOrder)
    assert str(outside) == "price 2000000 is above the maximum price 1000000"
    assert rules.refusal(None, D("0.00001")) is None  # at market: the amount alone
    assert rules.check(D("2000000"), D("0.001")) is None  # the grid checks the price range on its own terms
    assert rules.check_steps(D("0.00"), D("0.001")) is not None
    assert rules.check_steps(D("2000000.00"), D("0.001")) == "price 2000000.00 is above the maximum price 1000000"


def test_numbers_in_messages_are_written_as_a_person_writes_them():
    assert plain_number(D("8.7000")) == "8.7"
    assert plain_number(D("9.33E-6")) == "0.00000933"
    assert plain_number(D("1E+3")) == "1000"
    assert plain_number(D("0")) == "0"
    assert plain_number(D("0E-8")) == "0"
    assert plain_number(D("-0.50")) == "-0.5"


def test_a_price_of_zero_is_below_the_minimum_even_where_the_minimum_is_zero():
    free = replace(BTC, min_price=D(0), max_price=D(0))
    assert free.price_outside(D("0")) == "below the minimum price 0"
    assert free.price_outside(D("0.01")) is None


def test_shipped_rules_carry_the_price_band_the_open_order_cap_and_the_market_order_amounts():
    assert BTC.buy_band == BTC.sell_band == PriceBand(D("0.2"), D(5), 5)
    assert BTC.max_open_orders == 200
    assert BTC.market_max_amount == D("100.05381873")


def test_the_price_band_is_inclusive_and_per_side():
    rules = replace(BTC, buy_band=PriceBand(D("0.8"), D("1.2")), sell_band=PriceBand(D("0.9"), D("1.5")))
    assert rules.price_band_refusal(Side.BUY, D("24000.00"), D(30000)) is None  # exactly 0.8 ×: allowed
    assert rules.price_band_refusal(Side.BUY, D("23999.99"), D(30000)) == (
        "price 23999.99 is below 0.8 × the recent price 30000 (PERCENT_PRICE): at least 24000"
    )
    assert rules.price_band_refusal(Side.BUY, D("36000.00"), D(30000)) is None
    assert rules.price_band_refusal(Side.BUY, D("36000.01"), D(30000)) is not None
    # the sell side has its own multipliers (PERCENT_PRICE_BY_SIDE's ask)
    assert rules.price_band_refusal(Side.SELL, D("24000.00"), D(30000)) is not None
    assert rules.price_band_refusal(Side.SELL, D("45000.00"), D(30000)) is None
    assert "at most 45000" in (rules.price_band_refusal(Side.SELL, D("45000.01"), D(30000)) or "")
    assert replace(BTC, buy_band=None).price_band_refusal(Side.BUY, D("0.01"), D(30000)) is None


def test_the_open_order_cap_counts_every_open_order_on_the_symbol():
    assert BTC.open_orders_refusal(199) is None
    assert BTC.open_orders_refusal(200) == (
        "200 open orders on BTC/USDT reach the exchange's limit of 200 per symbol (MAX_NUM_ORDERS)"
    )
    assert replace(BTC, max_open_orders=0).open_orders_refusal(10_000) is None


def test_market_orders_keep_to_the_market_lot_size_and_limit_orders_to_the_maximum_notional():
    rules = replace(BTC, market_max_amount=D(100), max_notional=D(9_000_000))
    assert rules.refusal(D(30000), D(100), market=True) is None
    too_much = rules.refusal(D(30000), D("100.00001"), market=True)
    assert isinstance(too_much, InvalidOrder)
    assert str(too_much) == "amount 100.00001 is above the maximum market order amount 100 BTC"
    assert rules.refusal(None, D("100.00001")) is not None  # at market without a price
    assert rules.refusal(D("30000.00"), D(300)) is None  # a limit order: 9,000,000 exactly
    assert str(rules.refusal(D("30000.01"), D(300))).endswith("is above the maximum notional 9000000 USDT")


def test_the_maximum_position_counts_what_is_held_and_bought():
    rules = replace(BTC, max_position=D(43))
    assert rules.position_refusal(D(40), D(3)) is None
    assert rules.position_refusal(D(40), D("3.00001")) == (
        "position 40 + 3.00001 BTC would exceed the maximum position 43 BTC (MAX_POSITION)"
    )
