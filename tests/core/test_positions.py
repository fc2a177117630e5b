from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Context
from decimal import Decimal as D

from exchanges.base import OrderStatus, OrderType, Side
from exchanges.markets import market_rules
from trading.core.positions import PositionTracker, dust_basis
from trading.core.types import FillRecord, OrderRecord, Role

BTC = market_rules("BTC/USDT")
T0 = datetime(2022, 5, 5, tzinfo=UTC)


def buy(filled: str, fee: str, fee_currency: str, price: str = "29700.00") -> OrderRecord:
    return OrderRecord(
        client_order_id="ab7-1",
        symbol="BTC/USDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        role=Role.GRID_BUY,
        amount=D("0.001"),
        price=D(price),
        created_at=T0,
        status=OrderStatus.FILLED,
        filled=D(filled),
        cost=D(filled) * D(price),
        fee=D(fee),
        fee_currency=fee_currency,
        last_fill_at=T0 + timedelta(minutes=1),
    )


def sell(cid: str, status: OrderStatus, amount: str = "0.001") -> OrderRecord:
    return OrderRecord(
        client_order_id=cid,
        symbol="BTC/USDT",
        side=Side.SELL,
        type=OrderType.LIMIT,
        role=Role.TAKE_PROFIT,
        amount=D(amount),
        price=D("29997.00"),
        created_at=T0,
        status=status,
        parent="ab7-1",
        last_fill_at=T0 + timedelta(hours=1),
    )


def fill(cid: str, amount: str, price: str = "29997.00", fee: str = "0.02999700") -> FillRecord:
    return FillRecord(cid, f"{cid}-t{amount}", Side.SELL, D(price), D(amount), D(fee), "USDT", T0 + timedelta(hours=1))


def test_lot_of_a_buy_with_quote_fee_holds_the_whole_amount():
    tracker = PositionTracker(BTC)
    [lot] = tracker.open_lot(buy("0.001", "0.02970000", "USDT"))
    assert (lot.quantity, lot.entry_cost, lot.entry_fee_quote) == (D("0.001"), D("29.7000000"), D("0.02970000"))
    assert lot.opened_at == T0 + timedelta(minutes=1)
    assert lot.entry_price == D("29700")


def test_lot_of_a_buy_with_base_fee_holds_the_amount_less_the_fee():
    [lot] = PositionTracker(BTC).open_lot(buy("0.001", "0.000001", "BTC"))
    assert lot.quantity == D("0.000999")
    # what the quote balance paid is split between the held quantity and the fee, exactly
    assert lot.entry_cost + lot.entry_fee_quote == D("29.7000000")
    assert lot.entry_fee_quote == D("0.0297")


def test_take_profit_fill_closes_the_lot_with_pnl_net_of_both_fees():
    tracker = PositionTracker(BTC)
    [lot] = tracker.open_lot(buy("0.001", "0.02970000", "USDT"))
    closed = tracker.apply_exit(lot, sell("ab7-2", OrderStatus.FILLED), [fill("ab7-2", "0.001")], T0)
    # 29.997 − 0.029997 − 29.7 − 0.0297
    assert closed.realized_pnl == D("0.237303")
    assert closed.exit_reason == "take_profit"
    assert closed.closed_at == T0 + timedelta(hours=1)
    assert closed.exit_client_order_id == "ab7-2"
    assert len(tracker) == 0


def test_partial_exit_then_cancel_keeps_the_rest_open_for_the_next_exit():
    tracker = PositionTracker(BTC)
    lot = tracker.set_exit(tracker.open_lot(buy("0.001", "0.02970000", "USDT"))[0], "ab7-2")
    lot = tracker.apply_exit(
        lot, sell("ab7-2", OrderStatus.PARTIALLY_FILLED), [fill("ab7-2", "0.0004", fee="0.01199880")], T0
    )
    assert lot.is_open
    assert lot.exit_client_order_id == "ab7-2"
    lot = tracker.apply_exit(lot, sell("ab7-2", OrderStatus.CANCELED), [], T0)
    assert lot.is_open
    assert lot.exit_client_order_id is None
    assert lot.remaining == D("0.0006")
    stop = sell("ab7-3", OrderStatus.FILLED, "0.0006")
    stop = OrderRecord(**{**{f: getattr(stop, f) for f in stop.__dataclass_fields__}, "role": Role.STOP_LOSS})
    closed = tracker.apply_exit(lot, stop, [fill("ab7-3", "0.0006", price="29000.00", fee="0.01740000")], T0)
    assert closed.sold_quantity == D("0.001")
    # 0.0004 × 29997 + 0.0006 × 29000 − fees (0.0119988 + 0.0174) − 29.7 − 0.0297
    assert closed.realized_pnl == D("11.9988") + D("17.4") - D("0.0119988") - D("0.0174") - D("29.7") - D("0.0297")
    assert closed.exit_reason == "stop_loss"


# --- a buy fee paid in the base asset leaves dust the exit cannot sell -----------------------------------------------
WIDE = Context(prec=60)


def binance_buy(cid: str = "ab7-1", price: str = "29000", amount: str = "0.00067", fee: str = "0.00000067"):
    """A filled grid buy whose fee Binance took from the BTC it bought."""
    return replace(
        buy(amount, fee, "BTC", price), client_order_id=cid, amount=D(amount), last_fill_at=T0 + timedelta(minutes=1)
    )


def take_profit_fill(cid: str, amount: str, price: str, parent: str = "ab7-1") -> tuple[OrderRecord, FillRecord]:
    order = replace(sell(cid, OrderStatus.FILLED, amount), price=D(price), parent=parent)
    fee = (D(price) * D(amount) * D("0.001")).quantize(D("1e-8"))
    return order, fill(cid, amount, price=price, fee=format(fee, "f"))


def test_a_lot_that_sells_only_whole_steps_is_charged_the_cost_of_what_it_sold():
    tracker = PositionTracker(BTC)
    [lot] = tracker.open_lot(binance_buy())
    assert lot.quantity == D("0.00066933")  # 0.00067 less the fee in BTC
    order, sold = take_profit_fill("ab7-2", "0.00066", "29290")  # step 0.00001: 0.00000933 cannot be sold
    closed = tracker.apply_exit(lot, order, [sold], T0)
    # The reported bug booked 19.3314 − 0.0193314 − 19.43 = −0.1179314 for this winning trade.
    expected = WIDE.subtract(D("19.3314") - D("0.0193314"), WIDE.divide(D("19.43") * D("0.00066"), D("0.00066933")))
    assert closed.realized_pnl is not None
    assert abs(closed.realized_pnl - expected) <= D("2e-18")  # ≈ +0.15291: the cost of 0.00066 of 0.00066933
    assert closed.remaining == D("0.00000933")
    assert tracker.dust == {"ab7-1": closed}
    assert tracker.dust_quantity == D("0.00000933")
    cost_left, fee_left = dust_basis(closed)
    # what the dust keeps and what the sale was charged add up to what the buy paid, exactly
    assert closed.exit_proceeds - closed.exit_fee_quote - closed.realized_pnl + cost_left + fee_left == D("19.43")
    assert abs(cost_left + fee_left - D("0.2708408408408408408")) <= D("2e-18")
    [note] = tracker.notes()
    assert note.startswith("dust: 0.00000933 BTC left unsold by 1 closed lot(s), below the step 0.00001")
    assert "not in realized PnL" in note


def test_dust_moves_with_its_cost_into_a_later_lot_whose_sale_it_makes_a_step_larger():
    tracker = PositionTracker(BTC)
    [first] = tracker.open_lot(binance_buy())
    order, sold = take_profit_fill("ab7-2", "0.00066", "29290")
    donor = tracker.apply_exit(first, order, [sold], T0)
    cost_left, fee_left = dust_basis(donor)
    # 0.00066933 alone sells 0.00066; with the dust, 0.00067866 sells 0.00067
    receiver, emptied = tracker.open_lot(binance_buy("ab7-3", price="28700"))
    assert receiver.quantity == D("0.00066933") + D("0.00000933")
    assert receiver.entry_cost == D("28700") * D("0.00066933") + cost_left
    assert receiver.entry_fee_quote == D("28700") * D("0.00000067") + fee_left
    assert emptied.entry_client_order_id == "ab7-1"
    assert (emptied.quantity, emptied.sold_quantity, emptied.remaining) == (D("0.00066"), D("0.00066"), 0)
    assert emptied.realized_pnl == donor.realized_pnl  # the PnL booked on its sale does not change
    # it now holds exactly what it sold, at exactly the cost it was charged
    assert emptied.exit_proceeds - emptied.exit_fee_quote - emptied.entry_cost - emptied.entry_fee_quote == (
        emptied.realized_pnl
    )
    assert emptied.entry_cost + emptied.entry_fee_quote + receiver.entry_cost + receiver.entry_fee_quote == D(
        "19.43"
    ) + D("28700") * D("0.00067")
    assert tracker.dust == {}
    assert tracker.notes() == ()


def test_dust_waits_while_it_would_not_make_a_sale_a_step_larger():
    tracker = PositionTracker(BTC)
    [first] = tracker.open_lot(binance_buy())
    order, sold = take_profit_fill("ab7-2", "0.00066", "29290")
    tracker.apply_exit(first, order, [sold], T0)
    quote_fee_buy = replace(buy("0.00068", "0.01951600", "USDT", "28700"), client_order_id="ab7-3")
    [lot] = tracker.open_lot(quote_fee_buy)  # 0.00068 + 0.00000933 still sells 0.00068
    assert lot.quantity == D("0.00068")
    assert tracker.dust_quantity == D("0.00000933")


def test_a_lot_closed_before_costs_were_prorated_passes_its_dust_on_at_no_cost():
    tracker = PositionTracker(BTC)
    [first] = tracker.open_lot(binance_buy())
    order, sold = take_profit_fill("ab7-2", "0.00066", "29290")
    closed = tracker.apply_exit(first, order, [sold], T0)
    legacy = replace(closed, realized_pnl=D("19.3314") - D("0.0193314") - D("19.43"))  # charged the whole cost
    assert dust_basis(legacy) == (0, 0)
    tracker = PositionTracker(BTC, dust=[legacy])
    receiver, emptied = tracker.open_lot(binance_buy("ab7-3", price="28700"))
    assert receiver.entry_cost + receiver.entry_fee_quote == D("28700") * D("0.00067")
    assert (emptied.quantity, emptied.entry_cost) == (D("0.00066"), legacy.entry_cost)


def test_fees_in_a_third_currency_are_left_out_of_pnl_and_noted():
    tracker = PositionTracker(BTC)
    [lot] = tracker.open_lot(buy("0.001", "0.00004", "BNB"))
    assert (lot.quantity, lot.entry_cost, lot.entry_fee_quote) == (D("0.001"), D("29.7"), 0)
    bnb_fill = replace(fill("ab7-2", "0.001"), fee=D("0.00004"), fee_currency="BNB")
    closed = tracker.apply_exit(lot, sell("ab7-2", OrderStatus.FILLED), [bnb_fill], T0)
    assert closed.realized_pnl == D("29.997") - D("29.7")
    assert tracker.unpriced_fees == {"BNB": D("0.00008")}
    [note] = tracker.notes()
    assert note == (
        "fees paid in BNB (0.00008 BNB since start) are not in realized PnL: the engine has no BNB price in USDT "
        "to value them"
    )
