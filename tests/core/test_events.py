"""The engine's events over a paper exchange: each kind the engine emits, with its facts, written once (the pure
core; tests/test_events.py covers the ORM writer and tests/runtime the runtime's own events)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from exchanges.base import OrderRequest, OrderType, Side
from exchanges.paper.faults import Fault, FaultInjector
from tests.core.harness import Harness
from trading.core.events import REPEAT_FLUSH, Event, EventKind, RepeatThrottle, event


def kinds(h: Harness) -> list[str]:
    return [str(e.kind) for e in h.journal.events]


def of(h: Harness, kind: EventKind) -> list[Event]:
    return [e for e in h.journal.events if e.kind is kind]


def test_a_round_trip_places_fills_and_trails_the_ladder_with_its_facts():
    h = Harness("30000")
    h.start()
    h.step("29650")
    h.step("29997.01")
    h.step("30400")
    assert kinds(h) == ["ladder_placed", "buy_filled", "take_profit_filled", "ladder_trailed"]
    placed, bought, sold, trailed = h.journal.events
    assert placed.data == {"symbol": "BTC/USDT", "anchor": "30000", "levels": 3}
    assert bought.data == {
        "symbol": "BTC/USDT",
        "price": "29700",
        "amount": "0.00067",
        "fee": "0.019899",
        "fee_currency": "USDT",
        "client_order_id": "ab7-1",
    }
    assert (sold.data["lot_pnl"], sold.data["quote"], sold.data["price"]) == ("0.15899301", "USDT", "29997")
    assert sold.data["tick"] == "0.01"  # the market's, for the PnL's places in messages
    assert sold.data["entry_client_order_id"] == "ab7-1"
    assert (trailed.data["from_anchor"], trailed.data["to_anchor"]) == ("30000", "30400")


def test_a_stop_loss_sale_says_its_loss_and_reason_and_the_daily_limit_pauses_then_resumes():
    h = Harness("30000", stop_loss_pct=D(1), daily_loss_limit=D("0.1"), grid_levels=1)
    h.start()
    h.step("29650")
    h.step("29000")  # below 29700 × 0.99: sold at market
    [stop] = of(h, EventKind.STOP_LOSS_SOLD)
    assert stop.data["reason"] == "stop_loss"
    assert D(stop.data["lot_pnl"]) < D("-0.1")
    [paused] = of(h, EventKind.PAUSED)
    assert paused.data["reason"] == "daily_loss_limit"
    assert paused.data["until"] == "2022-05-06T00:00:00+00:00"
    assert paused.key == "paused:daily_loss_limit"
    for _ in range(5):
        h.step("29000")
    assert len(of(h, EventKind.PAUSED)) == 1  # a pause is said when it begins, not every tick
    h.step("29000", seconds=timedelta(days=1).total_seconds())
    [resumed] = of(h, EventKind.RESUMED)
    assert resumed.data["reason"] == "daily_loss_limit"
    assert resumed.severity == "info" and paused.severity == "warning"


def test_a_time_stop_sale_is_its_own_kind():
    h = Harness("30000", time_stop_hours=D(1), grid_levels=1)
    h.start()
    h.step("29650")
    h.step("29650", seconds=3601)
    [sale] = of(h, EventKind.TIME_STOP_SOLD)
    assert sale.data["reason"] == "time_stop"
    assert "lot_pnl" in sale.data


def test_buys_waiting_for_funds_pause_for_insufficient_funds():
    h = Harness("30000", balances={"USDT": "30"})
    h.start()
    [paused] = of(h, EventKind.PAUSED)
    assert paused.data["reason"] == "insufficient_funds"
    assert "waiting for funds" in paused.data["detail"]


def test_an_error_every_tick_is_handed_on_once_per_repeat_flush_with_its_count_and_the_pause_ends_with_a_resume():
    faults = FaultInjector()
    h = Harness("30000", faults=faults)
    h.start()
    faults.add("fetch_price", Fault.NETWORK, times=3)
    for _ in range(3):
        h.step("30000")
    [error] = of(h, EventKind.ERROR)  # the repeats wait in memory for REPEAT_FLUSH
    assert (error.key, error.count, error.data["error_class"]) == ("error:NetworkError", 1, "NetworkError")
    [paused] = of(h, EventKind.PAUSED)
    assert paused.data["reason"] == "exchange_down"
    h.step("30000")
    [resumed] = of(h, EventKind.RESUMED)
    assert resumed.data["reason"] == "exchange_down"
    h.step("30000", seconds=REPEAT_FLUSH.total_seconds())
    first, repeats = of(h, EventKind.ERROR)
    assert (repeats.key, repeats.count, repeats.at) == ("error:NetworkError", 2, first.at + timedelta(seconds=2))


def test_the_throttle_hands_on_the_first_at_once_and_the_repeats_as_one_count():
    throttle = RepeatThrottle(timedelta(seconds=30))
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def error(second: float) -> Event:
        return event(EventKind.ERROR, t0 + timedelta(seconds=second), key="error:X", message=f"t{second}")

    fill = event(EventKind.BUY_FILLED, t0, price=D(1))
    assert throttle.admit([error(0), fill], t0) == [error(0), fill]  # unkeyed events always pass
    for second in range(1, 30):
        assert throttle.admit([error(second)], t0 + timedelta(seconds=second)) == []
    [due] = throttle.admit([], t0 + timedelta(seconds=30))
    assert (due.count, due.data["message"]) == (29, "t29")
    assert throttle.admit([error(31)], t0 + timedelta(seconds=31)) == []
    [flushed] = throttle.admit([], t0 + timedelta(seconds=32), flush=True)
    assert flushed.count == 1
    assert throttle.admit([error(100)], t0 + timedelta(seconds=100)) == [error(100)]  # quiet long enough: at once


def test_a_pause_that_comes_back_after_its_resume_is_handed_on_at_once_not_held_as_a_repeat():
    throttle = RepeatThrottle(timedelta(seconds=30))
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def turn(kind: EventKind, second: float) -> Event:
        prefix = "paused" if kind is EventKind.PAUSED else "resumed"
        return event(kind, t0 + timedelta(seconds=second), key=f"{prefix}:max_positions", reason="max_positions")

    handed = [
        ev
        for second, kind in enumerate([EventKind.PAUSED, EventKind.RESUMED, EventKind.PAUSED, EventKind.RESUMED])
        for ev in throttle.admit([turn(kind, second)], t0 + timedelta(seconds=second))
    ]
    # in order, each at once: the timeline ends on what is true now
    assert [(ev.kind, ev.count) for ev in handed] == [
        (EventKind.PAUSED, 1),
        (EventKind.RESUMED, 1),
        (EventKind.PAUSED, 1),
        (EventKind.RESUMED, 1),
    ]
    # the same key again without a turn is a repeat as before
    assert throttle.admit([turn(EventKind.RESUMED, 5)], t0 + timedelta(seconds=5)) == []
    # and a turn hands on what was held first, then itself
    assert [(ev.kind, ev.count) for ev in throttle.admit([turn(EventKind.PAUSED, 6)], t0 + timedelta(seconds=6))] == [
        (EventKind.RESUMED, 1),
        (EventKind.PAUSED, 1),
    ]


def test_coins_sold_behind_the_engines_back_raise_one_balance_gap_event():
    h = Harness("30000")
    h.start()
    h.step("29650")
    [take_profit] = h.open_orders(Side.SELL)
    h.exchange.cancel_order("BTC/USDT", take_profit.client_order_id)
    h.exchange.place_order(OrderRequest("by-hand-1", "BTC/USDT", Side.SELL, OrderType.MARKET, D("0.00067")))
    h.step("29650")
    h.step("29650")
    [gap] = of(h, EventKind.BALANCE_GAP)
    assert gap.data == {"asset": "BTC", "held": "0.00067", "have": "0"}


def test_levels_the_market_rules_refuse_are_one_skipped_event_until_the_reasons_change():
    h = Harness("30000", market={"min_price": D("29500")})
    h.start()
    h.step("29990")
    [skipped] = of(h, EventKind.LEVEL_SKIPPED)
    assert skipped.key == "level_skipped"
    assert len(skipped.data["reasons"]) == 2 and all("minimum price" in r for r in skipped.data["reasons"])
