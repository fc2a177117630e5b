"""One real day: Binance BTCUSDT 1m candles of 2022-05-05 (tests/fixtures, source in its README), when BTC fell
from 39,684 to 36,535. The engine ticks once a minute; the paper exchange matches each candle's intra-candle
path (open, the extreme nearer the open, the other extreme, close). Every fill below can be checked by hand from
the candle file."""

from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR
from decimal import Decimal as D
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from exchanges.base import ZERO, Side
from exchanges.clock import ManualClock
from exchanges.markets import market_rules
from exchanges.paper.book import InMemoryPaperStore
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.feeds import CandleReplayFeed, load_binance_klines_csv
from tests.core.harness import make_config
from trading.core.engine import TradingEngine
from trading.core.memory import InMemoryJournal, InMemoryStatusBoard

FILE = Path(__file__).resolve().parent.parent / "fixtures" / "BTCUSDT-1m-2022-05-05.csv"
BTC = market_rules("BTC/USDT")

# time (UTC), side, role, price, amount — in the order they happened
EXPECTED = [
    ("08:43:40", "buy", "grid_buy", "39485.67", "0.00253"),
    ("13:31:40", "buy", "grid_buy", "39287.25", "0.00254"),
    ("13:56:40", "buy", "grid_buy", "39088.83", "0.00255"),
    ("14:42:00", "sell", "stop_loss", "38263.75", "0.00253"),
    ("15:03:00", "sell", "stop_loss", "38080.95", "0.00254"),
    ("15:07:00", "sell", "stop_loss", "37709.03", "0.00255"),
    ("15:07:40", "buy", "grid_buy", "37539.26", "0.00266"),
    ("15:08:40", "buy", "grid_buy", "37350.62", "0.00267"),
    ("15:08:40", "buy", "grid_buy", "37161.98", "0.00269"),
    ("15:12:40", "sell", "take_profit", "37347.79", "0.00269"),
    # 15:14 rises (37166.30 → 37218.10) but opens nearer its high (58.30 below it, 66.30 above the low): O→H→L→C
    ("15:14:40", "buy", "grid_buy", "37161.98", "0.00269"),
    ("15:17:40", "sell", "take_profit", "37347.79", "0.00269"),
    ("15:20:40", "buy", "grid_buy", "37161.98", "0.00269"),
    ("18:25:00", "sell", "stop_loss", "36089.94", "0.00266"),
    ("18:25:00", "sell", "stop_loss", "36089.94", "0.00267"),
    ("19:08:00", "sell", "stop_loss", "35865.15", "0.00269"),
    ("19:18:40", "buy", "grid_buy", "35703.68", "0.00280"),
    ("19:18:40", "buy", "grid_buy", "35524.26", "0.00281"),
    ("19:19:40", "sell", "take_profit", "35701.89", "0.00281"),
    ("19:21:40", "sell", "take_profit", "35882.20", "0.00280"),
]


@pytest.fixture(scope="module")
def day():
    candles = load_binance_klines_csv(FILE)
    clock = ManualClock(candles[0].open_time)
    store = InMemoryPaperStore({"USDT": "10000"})
    exchange = PaperExchange(store, feeds={"BTC/USDT": CandleReplayFeed(candles)}, clock=clock)
    config = make_config(
        grid_levels=3,
        buy_offset_pct=D("0.5"),
        sell_offset_pct=D("0.5"),
        order_size_quote=D(100),
        reprice_threshold_pct=D(1),
        stop_loss_pct=D(3),
    )
    journal = InMemoryJournal()
    engine = TradingEngine(
        config, exchange=exchange, journal=journal, status_board=InMemoryStatusBoard(), clock=clock, tz=ZoneInfo("UTC")
    )
    engine.start()
    for candle in candles[1:]:
        clock.set(candle.open_time)  # one tick a minute, at each candle's open
        engine.tick()
    clock.advance(60)
    engine.tick()
    fills = sorted(journal.fills.values(), key=lambda f: (f.executed_at, f.client_order_id))
    return candles, journal, store, fills


def test_the_fills_of_the_day(day):
    _, journal, _, fills = day
    got = [
        (
            f"{f.executed_at:%H:%M:%S}",
            str(f.side),
            str(journal.orders[f.client_order_id].role),
            f"{f.price:f}",
            f"{f.amount:f}",
        )
        for f in fills
    ]
    assert got == EXPECTED


def test_the_first_buy_is_level_one_below_the_first_open_and_fills_when_a_candle_crosses_it(day):
    candles, _, _, fills = day
    first = fills[0]
    # 39684.10 × (1 − 0.5 %) = 39485.6795 → down to the tick; 100 / 39485.67 = 0.0025325… → down to the step
    assert first.price == BTC.price_down(candles[0].open * D("0.995")) == D("39485.67")
    assert first.amount == BTC.amount_down(D(100) / first.price) == D("0.00253")
    assert first.fee == (first.price * first.amount * D("0.001")).quantize(D("1e-8"), ROUND_FLOOR)
    candle = next(c for c in candles if c.open_time <= first.executed_at < c.open_time + timedelta(minutes=1))
    assert candle.low < first.price
    # the candle opens nearer its high, so its path is O→H→L→C and the low is its third point, at +40 s
    assert candle.high - candle.open < candle.open - candle.low
    assert first.executed_at == candle.open_time + timedelta(seconds=40)
    before = [c for c in candles if c.open_time < candle.open_time]
    assert min(c.low for c in before) >= first.price  # never crossed earlier


def test_every_take_profit_sells_at_its_buy_plus_half_a_percent_rounded_up(day):
    _, journal, _, fills = day
    by_id = {f.client_order_id: f for f in fills}
    for fill in fills:
        order = journal.orders[fill.client_order_id]
        if str(order.role) == "take_profit":
            bought = by_id[order.parent]
            assert fill.price == BTC.price_up(bought.price * D("1.005"))
            assert fill.amount == bought.amount


def test_every_stop_loss_sells_at_market_when_the_tick_price_is_more_than_3_percent_down(day):
    candles, journal, _, fills = day
    opens = {c.open_time: c.open for c in candles}
    by_id = {f.client_order_id: f for f in fills}
    stops = [f for f in fills if str(journal.orders[f.client_order_id].role) == "stop_loss"]
    assert len(stops) == 6
    for fill in stops:
        bought = by_id[journal.orders[fill.client_order_id].parent]
        seen = opens[fill.executed_at]  # the engine ticks at the candle's open and sees that price
        assert seen < bought.price * D("0.97")
        # and it is the first tick that saw it so low: the one before was above the stop, or before the buy
        previous = fill.executed_at - timedelta(minutes=1)
        assert opens[previous] >= bought.price * D("0.97") or bought.executed_at > previous
        assert fill.price == BTC.price_down(seen * D("0.9995"))  # 0.05 % slippage against the seller


def test_pnl_of_each_lot_is_its_fills_net_of_fees_and_the_balances_add_up(day):
    _, journal, store, fills = day
    lots = sorted(journal.lots.values(), key=lambda lot: lot.opened_at)
    assert [lot.exit_reason for lot in lots] == ["stop_loss"] * 5 + ["take_profit", "take_profit", "stop_loss"] + [
        "take_profit"
    ] * 2
    # a take-profit round trip by hand: 0.00269 × (37347.79 − 37161.98) − 0.09996572 − 0.10046555
    assert lots[5].realized_pnl == D("0.29939763")
    total = sum((lot.realized_pnl or ZERO for lot in lots), ZERO)
    # the sum of the ten lots: six stops (−3.28816362 −3.26051722 −3.71432453 −4.05104487 −3.56210188 −3.68491567)
    # and four take-profits (0.29939763 × 2 + 0.29941554 + 0.29899482)
    assert total == D("-20.36386217")
    # nothing held at the end of the day but three resting buys
    with store.session() as book:
        assert book.balance("BTC").total == 0
        assert book.balance("USDT").total == D("10000") + total
        assert [o.side for o in book.open_orders.values()] == [Side.BUY] * 3
    assert datetime(2022, 5, 5, tzinfo=UTC) <= fills[-1].executed_at < datetime(2022, 5, 6, tzinfo=UTC)
