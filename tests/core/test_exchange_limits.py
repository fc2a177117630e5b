"""The engine keeps to the market rules that depend on the moment (issue 9, item 7): the open-order cap
(MAX_NUM_ORDERS), the price band (PERCENT_PRICE) and MAX_POSITION. Nothing is sent that the exchange would refuse;
the status says which level or take-profit waits, and why."""

from dataclasses import replace
from decimal import Decimal as D

from exchanges.base import OrderRequest, OrderStatus, OrderType, PriceBand, Side
from tests.core.harness import Harness

NARROW = PriceBand(D("0.8"), D("1.2"))  # 28 Binance symbols' PERCENT_PRICE (TUSD/USDT, …)


def test_levels_beyond_the_open_order_cap_wait_and_the_status_names_them_and_the_rule():
    h = Harness("30000", grid_levels=6, max_positions=10, market={"max_open_orders": 4})
    status = h.start()
    assert h.buy_prices() == [D("29700.00"), D("29400.00"), D("29100.00"), D("28800.00")]
    assert status.skipped_levels == (
        "level 5 at 28500.00 waits: 4 open orders on BTC/USDT reach the exchange's limit of 4 per symbol "
        "(MAX_NUM_ORDERS)",
        "level 6 at 28200.00 waits: 4 open orders on BTC/USDT reach the exchange's limit of 4 per symbol "
        "(MAX_NUM_ORDERS)",
    )
    assert h.orders(OrderStatus.REJECTED) == []
    # max_positions 10 can reach 10 open orders: the status says so, naming both fields and the cap
    [told] = [n for n in status.notes if "MAX_NUM_ORDERS" in n]
    assert told.startswith("max_positions 10 lets this strategy hold up to 10 open orders on BTC/USDT")
    assert "grid_levels 6" in told and "limit of 4 open orders per symbol" in told


def test_orders_of_others_on_the_symbol_count_toward_the_cap_and_a_take_profit_goes_before_a_buy():
    h = Harness("30000", grid_levels=3, max_positions=3, market={"max_open_orders": 4})
    h.start()
    h.exchange.place_order(OrderRequest("manual-1", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.001"), D(20000)))
    status = h.step("30000")  # 3 buys of ours + 1 of the user's: the cap
    assert status.skipped_levels == ()
    h.clock.advance(1)
    h.feed.set("29650")  # level 1 fills, and the user takes the slot it freed:
    h.exchange.place_order(OrderRequest("manual-2", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.001"), D(20001)))
    status = h.engine.tick()  # the lot's take-profit needs a slot
    [tp] = h.open_orders(Side.SELL)
    assert tp.price == D("29997.00")
    assert [b.price for b in h.open_orders(Side.BUY) if b.client_order_id.startswith("ab7-")] == [D("29400.00")]
    assert any(n.endswith("canceled: a take-profit needs its open-order slot") for n in status.notes)
    assert h.orders(OrderStatus.REJECTED) == []


def test_levels_below_the_price_band_wait_and_nothing_is_refused():
    h = Harness("30000", grid_levels=5, buy_offset_pct=D(5), market={"buy_band": NARROW, "sell_band": NARROW})
    status = h.start()
    # 0.8 × 30000 = 24000 exactly is inside the band; 22500 is not
    assert h.buy_prices() == [D("28500.00"), D("27000.00"), D("25500.00"), D("24000.00")]
    assert status.skipped_levels == (
        "level 5 at 22500.00 waits: price 22500 is below 0.8 × the recent price 30000 (PERCENT_PRICE): at least 24000",
    )
    assert h.orders(OrderStatus.REJECTED) == []


def test_a_take_profit_above_the_price_band_waits_until_the_price_comes_back():
    h = Harness("30000", grid_levels=1, market={"buy_band": NARROW, "sell_band": NARROW})
    h.start()
    status = h.step("24000")  # a crash fills the buy at 29700; its take-profit 29997 is above 1.2 × 24000
    assert h.open_orders(Side.SELL) == []
    [wait] = [n for n in status.notes if "take-profit" in n]
    assert wait.endswith(
        "take-profit at 29997.00 waits: price 29997 is above 1.2 × the recent price 24000 (PERCENT_PRICE): "
        "at most 28800"
    )
    h.step("24997.50")  # 1.2 × 24997.5 = 29997: inside the band again
    [tp] = h.open_orders(Side.SELL)
    assert tp.price == D("29997.00")
    assert h.orders(OrderStatus.REJECTED) == []


def test_buys_wait_at_the_maximum_position():
    h = Harness("30000", grid_levels=3, market={"max_position": D("0.0015")})
    status = h.start()  # 0.00067 + 0.00068 = 0.00135 BTC; a third buy would pass 0.0015
    assert len(h.open_orders(Side.BUY)) == 2
    assert status.skipped_levels[0].startswith(
        "level 3 at 29100.00 waits: position 0.00135 + 0.00068 BTC would exceed the maximum position 0.0015 BTC"
    )
    assert h.orders(OrderStatus.REJECTED) == []


def test_an_order_the_exchange_still_refuses_is_tried_again_with_backoff_not_every_tick():
    # The engine sees the last price, Binance measures the band from a five-minute average: a level the engine
    # thinks inside may be refused. Here the paper exchange's band is narrower than the one the engine knows.
    h = Harness("30000", grid_levels=1)
    h.exchange.markets["BTC/USDT"] = replace(h.engine.rules, buy_band=PriceBand(D("0.995"), D(5)))
    status = h.start()
    [note] = [n for n in status.notes if "rejected" in n]
    assert "the exchange refused a buy of BTC/USDT at 29700 (InvalidOrder: price 29700 is below 0.995" in note
    assert note.endswith("next try at 2022-05-05T00:00:02+00:00")
    for _ in range(600):
        status = h.step("30000")
    assert 8 <= len(h.orders(OrderStatus.REJECTED)) <= 10  # at 2, 6, 14 … s, then every 5 minutes; not 600
    assert any(w.startswith("level 1 at 29700.00 waits: the exchange refused") for w in status.skipped_levels)


def test_a_refusal_repeated_for_hours_still_waits_five_minutes_instead_of_overflowing():
    from datetime import UTC, datetime

    from exchanges.base import InvalidOrder
    from exchanges.markets import market_rules
    from trading.core.gate import LONGEST_WAIT, OrderGate

    gate = OrderGate(market_rules("BTC/USDT"), D(1), lambda: {})
    now = datetime(2024, 1, 1, tzinfo=UTC)
    for _ in range(80):  # 2⁸⁰ seconds is past what a timedelta holds
        gate.begin(now, D(30000), open_orders=0, position=D(0))
        gate.refused(Side.BUY, D(29000), InvalidOrder("no"))
        now += LONGEST_WAIT
    [hold] = gate.holds.values()
    assert hold.refusals == 80
    assert hold.until - (now - LONGEST_WAIT) == LONGEST_WAIT
