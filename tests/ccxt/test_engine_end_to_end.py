"""The core's TradingEngine, end to end, against the CCXT adapter over the fake Binance (a small stateful book):
orders go out with the engine's newClientOrderIds, fills are booked from Binance's trades, no id is sent twice."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from exchanges.base import OrderStatus
from exchanges.ccxt.errors import KeyRejected
from exchanges.clock import ManualClock
from tests.ccxt.conftest import binance_adapter
from tests.ccxt.fake_binance import Timeout
from trading.core.engine import TradingEngine
from trading.core.memory import InMemoryJournal, InMemoryStatusBoard
from trading.core.types import EngineConfig, Role

CONFIG = EngineConfig(
    strategy_id=7,
    symbol="BTC/USDT",
    grid_levels=3,
    buy_offset_pct=D(1),
    sell_offset_pct=D(1),
    order_size_quote=D(20),
    reprice_threshold_pct=D(1),
)


class Run:
    def __init__(self, fake, limiter, scope, sleeps) -> None:
        self.fake = fake
        self.exchange = binance_adapter(limiter, scope, sleeps)
        self.clock = ManualClock(datetime(2022, 5, 5, tzinfo=UTC))
        self.journal = InMemoryJournal()
        self.board = InMemoryStatusBoard()
        self.engine = self.new_engine()

    def new_engine(self) -> TradingEngine:
        return TradingEngine(
            CONFIG,
            exchange=self.exchange,
            journal=self.journal,
            status_board=self.board,
            clock=self.clock,
            balance_check_every=1,
        )

    def step(self, price: str, seconds: float = 1):
        self.clock.advance(seconds)
        self.fake.set_price("BTCUSDT", price)
        return self.engine.tick()

    def sent_ids(self) -> list[str]:
        return [r.params["newClientOrderId"] for r in self.fake.sent("POST", "/api/v3/order")]

    def resting(self, side: str) -> list[tuple[str, str]]:
        return sorted(
            (o["price"], o["clientOrderId"])
            for o in self.fake.orders.values()
            if o["status"] == "NEW" and o["side"] == side
        )


@pytest.fixture
def run(transport, limiter, scope, sleeps) -> Run:
    return Run(transport, limiter, scope, sleeps)


def test_the_engine_places_its_ladder_books_a_fill_and_takes_profit_through_ccxt(run):
    status = run.engine.start()
    assert status.last_error == ""
    posts = run.fake.sent("POST", "/api/v3/order")
    assert [
        (p.params["newClientOrderId"], p.params["side"], p.params["price"], p.params["quantity"]) for p in posts
    ] == [
        ("ab7-1", "BUY", "29700", "0.00067"),
        ("ab7-2", "BUY", "29400", "0.00068"),
        ("ab7-3", "BUY", "29100", "0.00068"),
    ]
    assert status.pending_buys == 3

    status = run.step("29650")  # the 29700 buy fills on the exchange while the engine is not looking
    assert status.position_count == 1
    [fill] = run.journal.fills.values()
    assert (fill.client_order_id, fill.trade_id, fill.price, fill.amount) == ("ab7-1", "5001", D("29700"), D("0.00067"))
    assert (fill.fee, fill.fee_currency) == (D("0.00000067"), "BTC")  # Binance takes a buy's fee in the base asset
    [lot] = run.journal.lots.values()
    [take_profit] = run.fake.sent("POST", "/api/v3/order")[3:]
    assert take_profit.params["side"] == "SELL" and take_profit.params["newClientOrderId"] == "ab7-4"
    assert take_profit.params["price"] == "29997"
    # The lot holds what arrived after the fee, and sells it rounded down to the step.
    assert D(take_profit.params["quantity"]) == D("0.00066") <= lot.quantity
    assert run.journal.orders["ab7-4"].role is Role.TAKE_PROFIT

    status = run.step("29997")
    assert status.position_count == 0
    [closed] = run.journal.lots.values()
    assert (closed.exit_reason, closed.sold_quantity, closed.exit_proceeds) == (
        "take_profit",
        D("0.00066"),
        D("19.79802"),
    )
    assert run.journal.orders["ab7-4"].status is OrderStatus.FILLED
    assert Counter(run.sent_ids()).most_common(1)[0][1] == 1  # no client order id was ever sent twice
    assert {cid for _, cid in run.resting("BUY")} == {"ab7-2", "ab7-3", "ab7-5"}


def test_a_timeout_after_an_accepted_order_is_adopted_not_sent_again(run):
    run.fake.script("POST", "/api/v3/order", Timeout(after=True))
    status = run.engine.start()
    assert status.last_error == ""
    assert run.sent_ids() == ["ab7-1", "ab7-2", "ab7-3"]
    assert run.journal.orders["ab7-1"].status is OrderStatus.OPEN
    assert run.journal.orders["ab7-1"].exchange_order_id == "1000"


def test_an_order_that_never_arrived_is_written_off_after_the_visibility_delay_and_replaced_under_a_new_id(run):
    run.fake.script("POST", "/api/v3/order", Timeout(after=False))
    status = run.engine.start()
    assert "RequestTimeout" in status.last_error
    assert run.sent_ids() == ["ab7-1"]  # the rest of the batch waits for reconcile
    assert run.journal.orders["ab7-1"].status is OrderStatus.PENDING

    run.step("30000", seconds=1)  # still inside the visibility delay: left pending, nothing new for that level
    assert run.journal.orders["ab7-1"].status is OrderStatus.PENDING
    run.step("30000", seconds=run.exchange.order_visibility_delay.total_seconds())
    assert run.journal.orders["ab7-1"].status is OrderStatus.LOST
    assert Counter(run.sent_ids())["ab7-1"] == 1
    assert sorted(p for p, _ in run.resting("BUY")) == ["29100", "29400", "29700"]


def test_a_restarted_engine_reconciles_with_the_exchange_and_places_nothing_twice(run):
    run.engine.start()
    run.fake.set_price("BTCUSDT", "29650")  # fills while no engine runs
    run.engine = run.new_engine()
    status = run.engine.start()
    assert status.position_count == 1
    assert Counter(run.sent_ids()).most_common(1)[0][1] == 1
    # The filled level stays held by its lot (its take-profit rests), the other two levels keep their buys.
    assert [cid for _, cid in run.resting("BUY")] == ["ab7-3", "ab7-2"]
    assert [cid for _, cid in run.resting("SELL")] == ["ab7-4"]


def test_insufficient_funds_pauses_new_buys_with_the_reason_in_the_status(run):
    run.fake.balances["USDT"] = [D("45"), D(0)]
    status = run.engine.start()
    assert [p["newClientOrderId"] for p in (r.params for r in run.fake.sent("POST", "/api/v3/order"))] == [
        "ab7-1",
        "ab7-2",
        "ab7-3",
    ]
    assert run.journal.orders["ab7-3"].status is OrderStatus.REJECTED
    assert any("insufficient funds" in reason for reason in status.paused)


def test_a_rejected_key_stops_the_strategy_with_a_clear_message_in_its_status(run):
    run.fake.script("GET", "/api/v3/openOrders", run.fake.error("key_rejected"))
    with pytest.raises(KeyRejected):
        run.engine.start()
    assert run.board.last is not None and run.board.last.state == "error"
    assert "KeyRejected: Binance rejected the API key (-2015)" in run.board.last.last_error
    assert run.fake.sent("POST", "/api/v3/order") == []


def test_an_order_the_exchange_refuses_skips_that_level_with_the_reason(run):
    run.fake.script("POST", "/api/v3/order", run.fake.error("filter_lot_size"))
    status = run.engine.start()
    assert run.journal.orders["ab7-1"].status is OrderStatus.REJECTED
    assert any("ab7-1 rejected" in note and "LOT_SIZE" in note for note in status.notes)
    assert run.sent_ids() == ["ab7-1", "ab7-2", "ab7-3"]


def test_a_take_profit_after_a_buy_fee_in_btc_books_its_gain_and_the_dust_is_sold_with_the_next_lot(run):
    run.engine.start()
    run.step("29650")  # Binance keeps 0.00000067 of the 0.00067 BTC bought: the lot holds 0.00066933
    status = run.step("29997")  # the take-profit sells 0.00066, a whole number of 0.00001 steps
    closed = run.journal.lots["ab7-1"]
    assert (closed.quantity, closed.sold_quantity) == (D("0.00066933"), D("0.00066"))
    # 19.79802 − 0.01979802 (sell fee) − 19.899 × 0.00066 / 0.00066933 (the cost of what was sold), not −0.12
    expected = D("19.79802") - D("0.01979802") - D("19.899") * D("0.00066") / D("0.00066933")
    assert closed.realized_pnl is not None
    assert abs(closed.realized_pnl - expected) < D("1e-17")
    assert closed.realized_pnl > D("0.156")
    assert status.realized_pnl_today == closed.realized_pnl
    assert any(n.startswith("dust: 0.00000933 BTC left unsold") for n in status.notes)

    run.step("29650")  # ab7-5 buys the level again: its 0.00066933 with the dust sell 0.00067
    [take_profit] = [o for o in run.journal.orders.values() if o.role is Role.TAKE_PROFIT and o.is_active]
    assert take_profit.amount == D("0.00067")
    assert run.journal.lots["ab7-5"].quantity == D("0.00067866")
    assert run.journal.lots["ab7-1"].quantity == D("0.00066")
    status = run.step("29997")
    assert run.fake.balances["BTC"] == [D("0.01") + D("0.00000866"), D(0)]  # what is left is exactly the new dust
    assert sum((lot.realized_pnl or D(0) for lot in run.journal.lots.values()), D(0)) == status.realized_pnl_today
    assert status.realized_pnl_today > D("0.3")
    assert Counter(run.sent_ids()).most_common(1)[0][1] == 1
