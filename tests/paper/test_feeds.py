import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from exchanges.paper.feeds import (
    CandleReplayFeed,
    RandomWalkFeed,
    feed_from_spec,
    load_binance_klines_csv,
    load_candles,
    load_json_candles,
    load_ohlcv_csv,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
KLINES = FIXTURES / "BTCUSDT-1m-2022-05-05.csv"
T0 = datetime(2022, 5, 5, tzinfo=UTC)


def walk(**kw):
    args = {"start_price": D("30000"), "start": T0, "tick": D("0.01"), "seed": 3}
    return RandomWalkFeed(**{**args, **kw})


def test_random_walk_is_the_same_in_every_process_and_in_any_order_of_questions():
    later = T0 + timedelta(seconds=5000)
    assert walk().price_at(later) == walk().price_at(later)
    a = walk()
    a.price_at(later)
    fresh = walk()
    assert [p for _, p in a.path(T0, T0 + timedelta(seconds=50))] == [
        p for _, p in fresh.path(T0, T0 + timedelta(seconds=50))
    ]
    assert walk(seed=4).price_at(later) != walk().price_at(later)


def test_random_walk_path_is_one_point_per_step_on_the_tick_grid():
    feed = walk(step_seconds=2)
    points = feed.path(T0, T0 + timedelta(seconds=10))
    assert [t for t, _ in points] == [T0 + timedelta(seconds=s) for s in (2, 4, 6, 8, 10)]
    assert all(p % D("0.01") == 0 for _, p in points)
    assert feed.price_at(T0 + timedelta(seconds=5)) == points[1][1]  # the step at 4 s holds until 6 s
    assert feed.price_at(T0 - timedelta(days=1)) == D("30000.00")


def test_binance_klines_load_with_exact_decimals():
    candles = load_binance_klines_csv(KLINES)
    assert len(candles) == 1440
    first = candles[0]
    assert first.open_time == T0
    assert (first.open, first.high, first.low, first.close) == (
        D("39684.10"),
        D("39704.10"),
        D("39684.10"),
        D("39689.60"),
    )


def test_intra_candle_path_visits_the_extreme_nearer_the_open_first():
    candles = load_binance_klines_csv(KLINES)[:3]
    feed = CandleReplayFeed(candles)
    points = feed.path(T0 - timedelta(seconds=1), T0 + timedelta(minutes=1) - timedelta(milliseconds=1))
    # candle 1 opens at its low (39684.10): O, L, H, C
    assert [p for _, p in points] == [D("39684.10"), D("39684.10"), D("39704.10"), D("39689.60")]
    assert [t - T0 for t, _ in points] == [
        timedelta(0),
        timedelta(seconds=20),
        timedelta(seconds=40),
        timedelta(seconds=59.999),
    ]
    # a rising candle that opens nearer its high goes there first all the same
    rising = next(c for c in load_binance_klines_csv(KLINES) if c.close > c.open and c.high - c.open < c.open - c.low)
    prices = [
        p
        for _, p in CandleReplayFeed([rising]).path(
            rising.open_time - timedelta(seconds=1), rising.open_time + timedelta(minutes=1)
        )
    ]
    assert prices == [rising.open, rising.high, rising.low, rising.close]


def test_replay_anchored_at_a_start_time_runs_at_the_speed_factor():
    candles = load_binance_klines_csv(KLINES)[:10]
    start = datetime(2030, 1, 1, tzinfo=UTC)
    feed = CandleReplayFeed(candles, start=start, speed=60)  # one candle per wall second
    assert feed.price_at(start) == candles[0].open
    assert feed.price_at(start + timedelta(seconds=3)) == candles[3].open
    points = feed.path(start, start + timedelta(seconds=1))
    assert [p for _, p in points] == [candles[0].low, candles[0].high, candles[0].close, candles[1].open]
    # every point's wall time maps back onto itself
    for at, price in points:
        assert feed.price_at(at) == price
    assert feed.price_at(start + timedelta(days=1)) == candles[-1].close  # after the data: the last close holds


def test_json_list_and_header_csv_formats_load_the_same_candles(tmp_path):
    candles = load_binance_klines_csv(KLINES)[:5]
    as_json = tmp_path / "c.json"
    as_json.write_text(
        json.dumps(
            [
                [int(c.open_time.timestamp() * 1000), float(c.open), float(c.high), float(c.low), float(c.close), 1.5]
                for c in candles
            ]
        )
    )
    as_csv = tmp_path / "c.csv"
    as_csv.write_text(
        "timestamp,open,high,low,close,volume\n"
        + "".join(f"{c.open_time:%Y-%m-%d %H:%M:%S.%f},{c.open},{c.high},{c.low},{c.close},1\n" for c in candles)
    )
    for loaded in (load_json_candles(as_json), load_ohlcv_csv(as_csv), load_candles(as_json), load_candles(as_csv)):
        assert [(c.open_time, c.open, c.high, c.low, c.close) for c in loaded] == [
            (c.open_time, c.open, c.high, c.low, c.close) for c in candles
        ]


def test_binance_spot_json_dicts_load():
    candles = load_candles(FIXTURES / "binance_spot_BTCUSDT_1m_2020-10-31_head.json")
    assert len(candles) == 20
    assert candles[0].open == D("13558.65000000")
    assert candles[0].open_time == datetime(2020, 10, 31, 6, 41, tzinfo=UTC)


def test_specs_rebuild_the_same_feed():
    spec = {"kind": "random_walk", "start_price": "30000", "start": T0.isoformat(), "tick": "0.01", "seed": 9}
    later = T0 + timedelta(seconds=777)
    assert feed_from_spec(spec).price_at(later) == feed_from_spec(dict(spec)).price_at(later)
    replay = feed_from_spec({"kind": "replay", "path": str(KLINES), "start": T0.isoformat(), "speed": 60})
    assert replay.price_at(T0 + timedelta(seconds=1)) == D("39689.60")  # candle 2's open


def test_a_stepped_feed_plays_the_points_handed_to_it_forgets_what_was_matched_and_can_be_down():
    from exchanges.base import ExchangeUnavailable
    from exchanges.paper.feeds import SteppedFeed

    feed = SteppedFeed()
    times = [T0 + timedelta(seconds=s) for s in range(5)]
    for at, price in zip(times, ["100", "99", "101", "98", "100"], strict=True):
        feed.step(at, D(price))
    assert feed.price_at(times[2] + timedelta(milliseconds=500)) == D("101")
    assert feed.path(times[0], times[3]) == [(times[1], D("99")), (times[2], D("101")), (times[3], D("98"))]
    assert feed.path(times[3], times[4]) == [(times[4], D("100"))]
    assert feed.price_at(times[4]) == D("100")  # what the exchange matched is dropped, the last price kept
    with pytest.raises(ValueError, match="only moves forward"):
        feed.step(times[4], D("1"))
    feed.down("exchange unavailable: no data")
    with pytest.raises(ExchangeUnavailable, match="no data"):
        feed.price_at(times[4])
    feed.step(times[4] + timedelta(seconds=1), D("97"))  # the next point: trading again
    assert feed.price_at(times[4] + timedelta(seconds=1)) == D("97")
