from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from exchanges.base import OrderStatus, OrderType, Side
from exchanges.markets import market_rules
from trading.core_types import FillRecord, OrderRecord, Role
from trading.positions import PositionTracker

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
    lot = tracker.open_lot(buy("0.001", "0.02970000", "USDT"))
    assert (lot.quantity, lot.entry_cost, lot.entry_fee_quote) == (D("0.001"), D("29.7000000"), D("0.02970000"))
    assert lot.opened_at == T0 + timedelta(minutes=1)
    assert lot.entry_price == D("29700")


def test_lot_of_a_buy_with_base_fee_holds_the_amount_less_the_fee():
    lot = PositionTracker(BTC).open_lot(buy("0.001", "0.000001", "BTC"))
    assert lot.quantity == D("0.000999")
    # what the quote balance paid is split between the held quantity and the fee, exactly
    assert lot.entry_cost + lot.entry_fee_quote == D("29.7000000")
    assert lot.entry_fee_quote == D("0.0297")


def test_take_profit_fill_closes_the_lot_with_pnl_net_of_both_fees():
    tracker = PositionTracker(BTC)
    lot = tracker.open_lot(buy("0.001", "0.02970000", "USDT"))
    closed = tracker.apply_exit(lot, sell("ab7-2", OrderStatus.FILLED), [fill("ab7-2", "0.001")], T0)
    # 29.997 − 0.029997 − 29.7 − 0.0297
    assert closed.realized_pnl == D("0.237303")
    assert closed.exit_reason == "take_profit"
    assert closed.closed_at == T0 + timedelta(hours=1)
    assert closed.exit_client_order_id == "ab7-2"
    assert len(tracker) == 0


def test_partial_exit_then_cancel_keeps_the_rest_open_for_the_next_exit():
    tracker = PositionTracker(BTC)
    lot = tracker.set_exit(tracker.open_lot(buy("0.001", "0.02970000", "USDT")), "ab7-2")
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
