"""Replayed candles behave like the exchange did: down during a gap in the data, and time only moves forward.

The data is real: Binance spot BTCUSDT 1h candles of 2018-02-07 to 2018-02-11 (tests/fixtures, source in its
README). Binance was down from 2018-02-08 00:28 to 2018-02-09 09:28:14.789 UTC: the candle of 00:00 is the last
before the outage, the next opens at 09:28:14.789, and candles keep that odd offset until a 31.75-minute candle
(2018-02-11 03:28:14.789) brings them back onto the hour.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from exchanges.base import ExchangeUnavailable, OrderRequest, OrderStatus, OrderType, Side
from exchanges.clock import ManualClock
from exchanges.paper.book import InMemoryPaperStore
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.feeds import Candle, CandleReplayFeed, load_binance_klines_csv
from tests.core.harness import make_config
from trading.core.engine import TradingEngine
from trading.core.memory import InMemoryJournal, InMemoryStatusBoard

FILE = Path(__file__).resolve().parent.parent / "fixtures" / "BTCUSDT-1h-2018-02-07_11-outage.csv"
SYMBOL = "BTC/USDT"
HOUR = timedelta(hours=1)
MS = timedelta(milliseconds=1)
GAP_START = datetime(2018, 2, 8, 1, tzinfo=UTC)  # the end of the 00:00 candle's hour
GAP_END = datetime(2018, 2, 9, 9, 28, 14, 789000, tzinfo=UTC)  # the next candle's open
SHORT = datetime(2018, 2, 11, 3, 28, 14, 789000, tzinfo=UTC)  # the 31.75-minute candle
BACK_ON_THE_HOUR = datetime(2018, 2, 11, 4, tzinfo=UTC)


@pytest.fixture(scope="module")
def candles() -> list[Candle]:
    return load_binance_klines_csv(FILE)


def test_a_replay_has_no_price_inside_a_gap_and_says_when_trading_resumes(candles):
    feed = CandleReplayFeed(candles)
    assert feed.interval == HOUR
    before = next(c for c in candles if c.open_time == GAP_START - HOUR)
    assert feed.price_at(GAP_START - MS) == before.close
    for inside in (GAP_START, GAP_START + timedelta(hours=20), GAP_END - MS):
        with pytest.raises(ExchangeUnavailable) as raised:
            feed.price_at(inside)
        assert "no candles from 2018-02-08 01:00:00 to 2018-02-09 09:28:14 UTC" in str(raised.value)
        assert "trading resumes at 2018-02-09 09:28:14 UTC" in str(raised.value)
    assert feed.price_at(GAP_END) == next(c for c in candles if c.open_time == GAP_END).open
    assert [t for t, _ in feed.path(GAP_START - timedelta(minutes=10), GAP_END)] == [GAP_START - MS, GAP_END]


def test_a_replay_played_faster_is_down_for_the_gap_divided_by_its_speed(candles):
    start = datetime(2030, 1, 1, tzinfo=UTC)
    feed = CandleReplayFeed(candles, start=start, speed=3600)  # an hour of data per wall second
    wall_gap_start = start + timedelta(seconds=(GAP_START - candles[0].open_time) / HOUR)
    feed.price_at(wall_gap_start - timedelta(milliseconds=1))
    with pytest.raises(ExchangeUnavailable, match=r"trading resumes at 2030-01-01 00:00:57 UTC"):
        feed.price_at(wall_gap_start)


def test_the_paper_exchange_is_down_during_a_gap_and_fills_nothing_in_it(candles):
    clock = ManualClock(GAP_START - timedelta(minutes=10))  # the 00:00 candle's high (7844) is behind
    exchange = PaperExchange(
        InMemoryPaperStore({"USDT": "1000", "BTC": "0.01"}), feeds={SYMBOL: CandleReplayFeed(candles)}, clock=clock
    )
    exchange.place_order(OrderRequest("s1", SYMBOL, Side.SELL, OrderType.LIMIT, D("0.002"), D("7900.00")))
    for at in (GAP_START, GAP_START + timedelta(hours=16), GAP_END - MS):
        clock.set(at)
        for call in (
            lambda: exchange.fetch_price(SYMBOL),
            lambda: exchange.fetch_order(SYMBOL, client_order_id="s1"),
            lambda: exchange.fetch_open_orders(SYMBOL),
            lambda: exchange.fetch_balance(),
            lambda: exchange.cancel_order(SYMBOL, "s1"),
            lambda: exchange.place_order(
                OrderRequest("s2", SYMBOL, Side.SELL, OrderType.MARKET, D("0.002"))  # a stop at a stale price
            ),
        ):
            with pytest.raises(ExchangeUnavailable):
                call()
    clock.set(GAP_END + timedelta(hours=2))
    state = exchange.fetch_order(SYMBOL, client_order_id="s1")
    # The first price above 7900 after the outage: the 09:28 candle's high, two thirds into it.
    assert state.status is OrderStatus.FILLED
    assert [t.timestamp for t in state.trades] == [GAP_END + HOUR * 2 / 3]
    with pytest.raises(Exception, match="s2"):
        exchange.fetch_order(SYMBOL, client_order_id="s2")  # the market sell never reached the book


def test_over_binances_2018_outage_the_engine_waits_and_sells_nothing_at_a_stale_price(candles):
    clock = ManualClock(candles[0].open_time)
    exchange = PaperExchange(
        InMemoryPaperStore({"USDT": "10000"}), feeds={SYMBOL: CandleReplayFeed(candles)}, clock=clock
    )
    journal, board = InMemoryJournal(), InMemoryStatusBoard()
    config = make_config(
        grid_levels=10,
        buy_offset_pct=D("0.3"),
        sell_offset_pct=D("1"),
        order_size_quote=D(100),
        reprice_threshold_pct=D("0.5"),
        time_stop_hours=D(2),
    )
    engine = TradingEngine(
        config, exchange=exchange, journal=journal, status_board=board, clock=clock, tz=ZoneInfo("UTC")
    )
    engine.start()
    booked: set[tuple[str, str]] = set()
    errors_in_gap = []
    while clock.now() < candles[-1].open_time + HOUR:
        clock.advance(600)  # a tick every 10 minutes
        status = engine.tick()
        for key, fill in journal.fills.items():
            if key not in booked:
                booked.add(key)
                assert fill.executed_at <= clock.now(), "a fill dated after the tick that booked it"
        if GAP_START <= clock.now() < GAP_END:
            errors_in_gap.append(status.last_error)
    in_gap = [o for o in journal.orders.values() if GAP_START <= o.created_at < GAP_END]
    assert in_gap == []  # no order at all, least of all a stop-loss or time-stop sell at the last price
    assert [f for f in journal.fills.values() if GAP_START <= f.executed_at < GAP_END] == []
    assert errors_in_gap and all("ExchangeUnavailable" in e for e in errors_in_gap)
    # The lots that outstayed their time stop during the outage are sold at its end, at the prices then.
    first_tick_after = GAP_END.replace(minute=30, second=0, microsecond=0)
    sold_after = [o for o in journal.orders.values() if str(o.role) == "time_stop" and o.created_at == first_tick_after]
    assert sold_after
    assert all(
        f.executed_at >= GAP_END
        for f in journal.fills.values()
        if f.client_order_id in {o.client_order_id for o in sold_after}
    )


def test_a_candle_shorter_than_its_interval_ends_at_the_next_candles_open(candles):
    feed = CandleReplayFeed(candles)
    everything = feed.path(candles[0].open_time - MS, candles[-1].open_time + HOUR)
    times = [t for t, _ in everything]
    assert times == sorted(times) and len(set(times)) == len(times)  # the path only moves forward
    short = next(c for c in candles if c.open_time == SHORT)
    assert feed.path(SHORT - MS, BACK_ON_THE_HOUR - MS) == [
        (SHORT, short.open),
        (SHORT + (BACK_ON_THE_HOUR - SHORT) / 3, short.high),  # a falling candle: high first
        (SHORT + (BACK_ON_THE_HOUR - SHORT) * 2 / 3, short.low),
        (BACK_ON_THE_HOUR - MS, short.close),
    ]
    after = next(c for c in candles if c.open_time == BACK_ON_THE_HOUR)
    assert feed.price_at(BACK_ON_THE_HOUR + timedelta(minutes=5)) == after.open
    # What dates a fill: every point of path(a, b) lies in (a, b], for any two ticks around the short candle.
    ticks = [SHORT - timedelta(minutes=30) + timedelta(minutes=m) for m in range(0, 120, 3)]
    for i, a in enumerate(ticks):
        for b in ticks[i + 1 :]:
            assert all(a < t <= b for t, _ in feed.path(a, b)), (a, b)


def test_the_interval_is_the_usual_spacing_also_when_the_data_starts_with_a_short_candle(candles):
    tail = [c for c in candles if c.open_time >= SHORT]
    assert CandleReplayFeed(tail).interval == HOUR
    assert CandleReplayFeed(tail[:1]).interval == timedelta(minutes=1)


def test_two_candles_at_one_open_time_are_refused(candles):
    with pytest.raises(ValueError, match="two candles open at 2018-02-07T01:00:00"):
        CandleReplayFeed([candles[0], candles[1], candles[1]])
