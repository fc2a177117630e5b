"""The engine loop against the paper exchange: ladder, take-profits, reprice, stops, pauses, write-ahead."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from exchanges.base import OrderStatus, Side
from exchanges.paper.faults import Fault, FaultInjector
from tests.core.harness import Harness
from trading.core.types import Role


def test_start_places_the_ladder_below_the_price_with_write_ahead_ids():
    h = Harness("30000")
    status = h.start()
    assert h.buy_prices() == [D("29700.00"), D("29400.00"), D("29100.00")]
    assert status.pending_buys == 3
    assert status.anchor_price == D("30000")
    assert sorted(o.client_order_id for o in h.orders()) == ["ab7-1", "ab7-2", "ab7-3"]
    assert all(o.status is OrderStatus.OPEN and o.exchange_order_id for o in h.orders())


def test_a_filled_buy_opens_a_lot_and_places_its_take_profit():
    h = Harness("30000")
    h.start()
    status = h.step("29650")
    [lot] = h.open_lots()
    assert (lot.level_price, lot.quantity, lot.entry_fee_quote) == (D("29700.00"), D("0.00067"), D("0.01989900"))
    [tp] = h.open_orders(Side.SELL)
    assert (tp.price, tp.amount) == (D("29997.00"), D("0.00067"))
    assert h.engine.book[tp.client_order_id].role is Role.TAKE_PROFIT
    assert h.engine.book[tp.client_order_id].parent == lot.entry_client_order_id
    assert (status.pending_buys, status.pending_sells, status.position_count) == (2, 1, 1)


def test_a_filled_take_profit_closes_the_lot_and_the_level_is_bought_again():
    h = Harness("30000")
    h.start()
    h.step("29650")
    status = h.step("29997.01")
    [closed] = h.closed_lots()
    # 0.00067 × (29997 − 29700) − 0.019899 − 0.02009799
    assert closed.realized_pnl == D("0.15899301")
    assert closed.exit_reason == "take_profit"
    assert status.realized_pnl_today == D("0.15899301")
    assert h.buy_prices() == [D("29700.00"), D("29400.00"), D("29100.00")]
    assert status.position_count == 0


def test_the_ladder_trails_up_only_past_the_reprice_threshold():
    h = Harness("30000")
    h.start()
    h.step("30300.00")
    assert h.buy_prices()[0] == D("29700.00")
    status = h.step("30300.01")
    assert status.anchor_price == D("30300.01")
    assert h.buy_prices() == [D("29997.00"), D("29694.00"), D("29391.00")]
    assert len(h.orders(OrderStatus.CANCELED)) == 3


def test_a_partly_filled_buy_is_kept_through_a_reprice():
    faults = FaultInjector()
    h = Harness("30000", faults=faults)
    h.start()
    faults.add("fetch_price", Fault.PARTIAL_FILL)
    h.step("29690")  # level 1 fills half
    h.step("30400")  # reprice
    buys = h.open_orders(Side.BUY)
    assert len(buys) == 3  # never more than grid_levels
    assert D("29700.00") in {b.price for b in buys}
    assert [b.filled for b in buys if b.price == D("29700.00")] == [D("0.00033")]


def test_a_partly_filled_buy_whose_part_can_be_sold_becomes_a_lot_on_reprice():
    faults = FaultInjector()
    h = Harness("30000", faults=faults, order_size_quote=D(40), sell_offset_pct=D(3))
    h.start()
    faults.add("fetch_price", Fault.PARTIAL_FILL)
    h.step("29690")  # level 1 (0.00134) fills half: 0.00067, worth ~19.9 USDT, sellable alone
    h.step("30400")  # reprice
    [lot] = h.open_lots()
    assert lot.quantity == D("0.00067")
    assert [(o.price, o.amount) for o in h.open_orders(Side.SELL)] == [(D("30591.00"), D("0.00067"))]
    assert len(h.open_orders(Side.BUY)) == 3
    assert D("29700.00") not in {b.price for b in h.open_orders(Side.BUY)}


def test_stop_loss_cancels_the_take_profit_and_sells_the_lot_at_market():
    h = Harness("30000", stop_loss_pct=D(2), grid_levels=1)
    h.start()
    h.step("29650")
    h.step("29106.00")  # exactly −2 % of 29700: kept
    assert len(h.open_lots()) == 1
    h.step("29105.99")
    [closed] = h.closed_lots()
    assert closed.exit_reason == "stop_loss"
    assert closed.exit_price == D("29091.43")  # 29105.99 × (1 − 0.05 % slippage), down to the tick
    stop = h.journal.orders[closed.exit_client_order_id]
    assert (stop.role, stop.type, stop.status) == (Role.STOP_LOSS, "market", OrderStatus.FILLED)
    assert [o.role for o in h.orders(OrderStatus.CANCELED)] == [Role.TAKE_PROFIT]
    assert h.balance("BTC") == 0  # never sells more than held, and sells it all


def test_time_stop_sells_a_lot_held_longer_than_the_hours():
    h = Harness("30000", time_stop_hours=D(1), grid_levels=1)
    h.start()
    h.step("29650")
    opened = h.open_lots()[0].opened_at
    h.clock.set(opened + timedelta(hours=1) - timedelta(seconds=1))
    h.step("29700")  # exactly one hour held
    assert len(h.open_lots()) == 1
    h.step("29700")
    [closed] = h.closed_lots()
    assert closed.exit_reason == "time_stop"


def test_daily_loss_limit_cancels_resting_buys_until_the_next_day():
    h = Harness(
        "30000",
        stop_loss_pct=D(2),
        grid_levels=1,
        daily_loss_limit=D("0.4"),
        start=datetime(2022, 5, 5, 23, 0, tzinfo=UTC),
    )
    h.start()
    h.step("29650")
    status = h.step("29105.99")  # level 1 stopped out at a loss of about 0.45 USDT
    loss = h.closed_lots()[0].realized_pnl
    assert loss is not None
    assert loss < D("-0.4")
    assert status.paused
    assert status.paused[0].startswith("daily loss limit")
    assert h.open_orders(Side.BUY) == []
    h.clock.set(datetime(2022, 5, 5, 23, 59, 58, tzinfo=UTC))
    assert h.step("29200").paused
    status = h.step("29200", seconds=2)  # 00:00:00 UTC: a new day
    assert status.paused == ()
    assert h.buy_prices() == [D("28908.00")]  # no lot left: a fresh ladder under 29200


def test_loss_streak_cooldown_pauses_buys_for_exactly_the_minutes():
    h = Harness("30000", stop_loss_pct=D(2), grid_levels=1, max_consecutive_losses=1, cooldown_minutes=10)
    h.start()
    h.step("29650")
    h.step("29105.99")
    closed_at = h.closed_lots()[0].closed_at
    assert closed_at is not None
    h.clock.set(closed_at + timedelta(minutes=10) - timedelta(seconds=2))
    status = h.step("29200")
    assert status.paused[0].startswith("cooldown")
    assert h.open_orders(Side.BUY) == []
    status = h.step("29200")
    assert status.paused == ()
    assert len(h.open_orders(Side.BUY)) == 1


def test_max_positions_caps_resting_buys_plus_open_lots():
    h = Harness("30000", grid_levels=3, max_positions=2)
    status = h.start()
    assert len(h.open_orders(Side.BUY)) == 2
    assert status.paused[0].startswith("max positions")
    h.step("29350")  # two lots open
    assert len(h.open_lots()) == 2
    assert h.open_orders(Side.BUY) == []


def test_insufficient_funds_rejects_the_order_and_buys_wait_for_funds():
    h = Harness("30000", balances={"USDT": "50"})
    status = h.start()
    assert len(h.open_orders(Side.BUY)) == 2
    [rejected] = h.orders(OrderStatus.REJECTED)
    assert "InsufficientFunds" in rejected.error
    assert any(p.startswith("waiting for funds: the exchange refused a buy") for p in status.paused)


def test_skipped_levels_are_shown_in_the_status():
    # 10.4 USDT buys 0.00035 BTC at each level; at 29100 the 0.00034 left after the fee is worth 9.99 at 29391
    status = Harness("30000", order_size_quote=D("10.4")).start()
    assert len(status.skipped_levels) == 1
    assert status.skipped_levels[0].startswith("level 3 at 29100.00: its take-profit could not sell")
    assert status.skipped_levels[0].endswith("the smallest order size that places it is 10.476 USDT")
    assert status.pending_buys == 2


def test_a_timeout_after_the_exchange_took_the_order_is_reconciled_not_resent():
    faults = FaultInjector()
    h = Harness("30000", faults=faults)
    faults.add("place_order", Fault.TIMEOUT_AFTER)
    status = h.start()
    assert "RequestTimeout" in status.last_error
    # the first order reached the book; the two after it were never sent and are written off as lost
    assert [o.status for o in sorted(h.orders(), key=lambda o: o.sequence)] == [
        OrderStatus.PENDING,
        OrderStatus.LOST,
        OrderStatus.LOST,
    ]
    h.step("30000")
    assert h.journal.orders["ab7-1"].status is OrderStatus.OPEN  # adopted by client id
    assert h.buy_prices() == [D("29700.00"), D("29400.00"), D("29100.00")]  # no level twice
    assert len(h.store.all_orders()) == 3


def test_a_network_error_before_sending_ends_in_lost_and_a_fresh_order():
    faults = FaultInjector()
    h = Harness("30000", faults=faults, grid_levels=1)
    faults.add("place_order", Fault.NETWORK)
    h.start()
    h.step("30000")
    assert h.journal.orders["ab7-1"].status is OrderStatus.LOST
    assert h.journal.orders["ab7-2"].status is OrderStatus.OPEN
    assert h.buy_prices() == [D("29700.00")]


def test_an_order_written_off_as_lost_that_surfaces_on_the_exchange_is_adopted():
    h = Harness("30000", grid_levels=1)
    h.start()
    # as if a lookup had missed it: the journal wrote ab7-1 off, yet it rests on the exchange
    h.journal.orders["ab7-1"] = replace(h.journal.orders["ab7-1"], status=OrderStatus.LOST)
    h.restart()
    assert h.journal.orders["ab7-1"].status is OrderStatus.OPEN
    assert h.buy_prices() == [D("29700.00")]  # adopted, not placed again
    assert len(h.store.all_orders()) == 1


def test_fills_made_while_the_engine_was_down_are_booked_on_restart():
    h = Harness("30000")
    h.start()
    for price in ("29500", "29380", "30100"):  # two levels fill while nobody runs
        h.clock.advance(60)
        h.feed.set(price)
    h.restart()
    lots = sorted(h.lots(), key=lambda lot: lot.level_price)
    assert [lot.level_price for lot in lots] == [D("29400.00"), D("29700.00")]
    # the take-profits were marketable on placement (30100 is above both targets) and sold at once
    assert all(not lot.is_open for lot in lots)
    assert [lot.exit_price for lot in lots] == [D("30100"), D("30100")]


def test_stop_cancels_the_buys_and_leaves_take_profits_resting():
    h = Harness("30000")
    h.start()
    h.step("29650")
    status = h.engine.stop()
    assert status.state == "stopped"
    assert h.open_orders(Side.BUY) == []
    assert [o.price for o in h.open_orders(Side.SELL)] == [D("29997.00")]


def test_a_small_priced_pair_trades_on_its_own_tick_and_step():
    h = Harness(
        "0.071234",
        symbol="ETH/BTC",
        balances={"BTC": "1"},
        grid_levels=2,
        buy_offset_pct=D(2),
        sell_offset_pct=D("1.5"),
        order_size_quote=D("0.01"),
    )
    h.start()
    assert h.buy_prices() == [D("0.069809"), D("0.068384")]
    h.step("0.0698")
    [tp] = h.open_orders(Side.SELL)
    assert (tp.price, tp.amount) == (D("0.070857"), D("0.1432"))


def test_stop_with_cancel_all_also_cancels_take_profits_and_a_restart_replaces_them():
    h = Harness("30000")
    h.start()
    h.step("29650")
    assert len(h.open_orders(Side.SELL)) == 1
    status = h.engine.stop(cancel_all=True)
    assert status.state == "stopped"
    assert h.open_orders() == []
    assert len(h.open_lots()) == 1  # the coin is still held
    h.restart()
    assert [o.price for o in h.open_orders(Side.SELL)] == [D("29997.00")]


def test_start_without_a_first_tick_reconciles_but_places_nothing():
    h = Harness("30000")
    h.start()
    h.step("29650")  # one buy filled while "another" engine ran
    before = {o.client_order_id for o in h.open_orders()}
    h.engine = h.new_engine()
    status = h.engine.start(first_tick=False)
    assert status.state == "running"
    assert {o.client_order_id for o in h.open_orders()} == before
    h.engine.stop()
    assert h.open_orders(Side.BUY) == []


def test_reconfigure_applies_new_grid_rules_from_the_next_tick():
    h = Harness("30000", grid_levels=3)
    h.start()
    assert len(h.buy_prices()) == 3
    h.reconfigure(grid_levels=5)
    h.engine.reconfigure(h.config)
    h.step("30000")
    assert len(h.buy_prices()) == 5


# --- a buy fee taken in the base asset (Binance without BNB) ----------------------------------------------------------
def test_a_take_profit_that_sells_whole_steps_books_the_gain_on_what_it_sold():
    h = Harness("30000", buy_fee_in_base=True)
    h.start()
    h.step("29650")
    [lot] = h.open_lots()
    assert lot.quantity == D("0.00066933")  # 0.00067 less 0.00000067 BTC of fee
    [tp] = h.open_orders(Side.SELL)
    assert tp.amount == D("0.00066")
    status = h.step("29997.01")
    [closed] = h.closed_lots()
    # charged 0.00066 / 0.00066933 of the 19.899 USDT paid, not all of it (which booked −0.12077802 before)
    expected = D("19.79802") - D("0.01979802") - D("19.899") * D("0.00066") / D("0.00066933")
    assert closed.realized_pnl is not None
    assert abs(closed.realized_pnl - expected) < D("1e-17")
    assert D("0.156") < closed.realized_pnl < D("0.157")
    assert status.realized_pnl_today == closed.realized_pnl
    assert closed.remaining == D("0.00000933") == h.balance("BTC")  # the dust, still held and accounted for
    assert any(note.startswith("dust: 0.00000933 BTC left unsold by 1 closed lot(s)") for note in status.notes)


def test_dust_is_sold_with_the_next_lot_once_it_makes_that_sale_a_step_larger():
    h = Harness("30000", buy_fee_in_base=True)
    h.start()
    h.step("29650")
    h.step("29997.01")
    status = h.step("29650")  # the level is bought again; its 0.00066933 and the dust make 0.00067866
    [lot] = h.open_lots()
    assert lot.quantity == D("0.00067866")
    [tp] = h.open_orders(Side.SELL)
    assert tp.amount == D("0.00067")
    [first] = h.closed_lots()
    assert (first.quantity, first.sold_quantity) == (D("0.00066"), D("0.00066"))
    assert not any(note.startswith("dust") for note in status.notes)
    paid = sum((f.price * f.amount for f in h.journal.fills.values() if f.side is Side.BUY), D(0))
    assert sum((x.entry_cost + x.entry_fee_quote for x in h.lots()), D(0)) == paid  # no cost lost or made
    h.step("29997.01")
    assert sum((x.remaining for x in h.lots()), D(0)) == h.balance("BTC") == D("0.00000866")


def test_a_lot_that_took_cheaper_dust_still_sells_at_its_own_buy_price_plus_the_offset():
    h = Harness("0.5000", symbol="XRP/USDT", grid_levels=1, buy_fee_in_base=True)
    h.start()
    h.step("0.4949")  # 40 XRP at 0.4950, 39.96 after the fee
    h.step("0.5001")  # the take-profit sells 39 at 0.5000: 0.96 XRP of dust, bought at 0.4950
    h.step("0.5300")  # past the reprice threshold: the ladder trails up to 0.5247
    h.step("0.5246")  # 38 XRP at 0.5247, 37.962 after the fee; with the dust, 38 sell instead of 37
    [lot] = h.open_lots()
    assert (lot.level_price, lot.quantity) == (D("0.5247"), D("38.922"))
    assert lot.entry_price < D("0.5241")  # the blend of 37.962 at 0.5247 and 0.96 at 0.4950
    [tp] = h.open_orders(Side.SELL)
    # 0.5247 × 1.01 = 0.529947 → 0.5300; the blended entry price would have made it 0.5294
    assert (tp.price, tp.amount) == (D("0.5300"), D("38"))


def test_levels_closer_than_one_tick_are_one_buy_and_the_status_says_why():
    # 0.01 % of 0.5 is 0.00005 XRP/USDT, half its tick: every second level rounds to the price of the one above.
    h = Harness("0.5000", symbol="XRP/USDT", grid_levels=4, buy_offset_pct=D("0.01"))
    status = h.start()
    assert h.buy_prices() == [D("0.4999"), D("0.4998")]
    assert status.skipped_levels == (
        "level 2 at 0.4999: collapsed into level 1, the spacing 0.00005 is below the tick 0.0001",
        "level 4 at 0.4998: collapsed into level 3, the spacing 0.00005 is below the tick 0.0001",
    )
    h.step("0.5000")
    assert h.buy_prices() == [D("0.4999"), D("0.4998")]  # a later tick does not fill the two slots either


def test_dust_survives_a_restart():
    h = Harness("30000", buy_fee_in_base=True)
    h.start()
    h.step("29650")
    h.step("29997.01")
    h.restart()
    assert h.engine.positions.dust_quantity == D("0.00000933")
    h.step("29650")
    assert [x.quantity for x in h.open_lots()] == [D("0.00067866")]


# --- the market's price range ----------------------------------------------------------------------------------------
def test_levels_below_the_min_price_are_skipped_and_shown_in_the_status():
    h = Harness("30000", market={"min_price": D("29500")})
    status = h.start()
    assert h.buy_prices() == [D("29700.00")]
    assert status.skipped_levels == (
        "level 2 at 29400.00: below the minimum price 29500",
        "level 3 at 29100.00: below the minimum price 29500",
    )
    assert h.orders(OrderStatus.REJECTED) == []


def test_a_take_profit_above_the_max_price_rests_at_the_max_price_when_that_still_gains():
    h = Harness("30000", grid_levels=1, market={"max_price": D("29800")})
    h.start()
    h.step("29650")
    assert [(o.price, o.amount) for o in h.open_orders(Side.SELL)] == [(D("29800.00"), D("0.00067"))]
    assert h.orders(OrderStatus.REJECTED) == []


def test_a_lot_whose_take_profit_the_max_price_would_make_a_loss_gets_a_note_instead():
    h = Harness("30000", grid_levels=1)
    h.start()
    # The market's max price falls below the lot's break-even while its buy rests: such a level would no longer
    # be placed, but this buy already is.
    lowered = replace(h.exchange.markets["BTC/USDT"], max_price=D("29750"))
    h.exchange.markets = {**h.exchange.markets, "BTC/USDT": lowered}  # a new dict: the shipped one is shared
    restarted = h.restart()
    assert restarted.skipped_levels == (
        "level 1 at 29700.00: take-profit 29997.00 is above the maximum price 29750, which is below the break-even "
        "29759.49 after fees; no order size can place this level",
    )
    status = h.step("29650")
    assert h.open_orders(Side.SELL) == []
    assert h.orders(OrderStatus.REJECTED) == []
    assert (
        "lot ab7-1 has no take-profit: take-profit 29997.00 is above the maximum price 29750, which is below the "
        "break-even 29759.46 after fees" in status.notes
    )
