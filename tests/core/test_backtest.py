"""The backtester (trading.backtest): hand-computed candles, fast mode = every point, gaps, the paper engine."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchanges.base import MarketRules, Side
from exchanges.markets import market_rules
from exchanges.paper.feeds import Candle, candle_path
from exchanges.paper.series import load_series
from tests.core.harness import Harness, make_config
from trading.backtest import BacktestOptions, BacktestResult, Mode, run_backtest
from trading.core.types import EngineConfig

ROOT = Path(__file__).resolve().parents[2]
BTC = market_rules("BTC/USDT")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
FEE = D("0.001")


def fee(notional: D) -> D:
    return (notional * FEE).quantize(D("1e-8"), ROUND_FLOOR)


def candles(*rows: tuple[str, str, str, str], start: datetime = T0, spacing: timedelta = MINUTE) -> list[Candle]:
    return [Candle(start + spacing * i, *(D(v) for v in row)) for i, row in enumerate(rows)]


def config(**overrides: Any) -> EngineConfig:
    base: dict[str, Any] = {
        "grid_levels": 2,
        "buy_offset_pct": D(1),
        "sell_offset_pct": D(1),
        "order_size_quote": D(100),
    }
    return make_config(**{**base, **overrides})


def both(
    data: Any, cfg: EngineConfig, market: MarketRules | None = None, **options: Any
) -> tuple[BacktestResult, BacktestResult]:
    """The same backtest ticking every point and skipping quiet candles; they must agree on everything."""
    rules = market or market_rules(cfg.symbol)
    slow = run_backtest(data, cfg, rules, BacktestOptions(mode=Mode.EVERY_POINT, **options))
    fast = run_backtest(data, cfg, rules, BacktestOptions(mode=Mode.FAST, **options))
    assert fast.orders == slow.orders
    assert fast.fills == slow.fills
    assert fast.closed_positions == slow.closed_positions
    assert (fast.realized_pnl, fast.unrealized_pnl, fast.max_drawdown, fast.capital_peak, fast.equity_curve) == (
        slow.realized_pnl,
        slow.unrealized_pnl,
        slow.max_drawdown,
        slow.capital_peak,
        slow.equity_curve,
    )
    assert fast.ticks <= slow.ticks
    return slow, fast


# --- the intra-candle path --------------------------------------------------------------------------------------------
def test_the_path_visits_the_extreme_nearer_the_open_first_and_a_tie_follows_the_close():
    def prices(o: str, h: str, low: str, c: str) -> list[D]:
        return [p for _, p in candle_path(Candle(T0, D(o), D(h), D(low), D(c)), MINUTE)]

    # rising (close above open) but the open is nearer the high: high first
    assert prices("100", "101", "97", "100.5") == [D(100), D(101), D(97), D("100.5")]
    # falling but the open is nearer the low: low first
    assert prices("100", "104", "99", "99.5") == [D(100), D(99), D(104), D("99.5")]
    # the open halfway: a rising candle goes low first, a falling one high first
    assert prices("100", "102", "98", "101") == [D(100), D(98), D(102), D(101)]
    assert prices("100", "102", "98", "99") == [D(100), D(102), D(98), D(99)]
    times = [t - T0 for t, _ in candle_path(Candle(T0, D(1), D(2), D(1), D(2)), MINUTE)]
    assert times == [timedelta(0), timedelta(seconds=20), timedelta(seconds=40), timedelta(seconds=59.999)]


# --- hand-computed scenarios ------------------------------------------------------------------------------------------
def test_a_buy_and_its_take_profit_fill_within_their_candles_at_their_limit_prices_with_the_maker_fee():
    data = candles(
        ("30000", "30010", "29990", "30000"),  # open halfway, closes level: low first; the ladder 29700, 29400
        ("30000", "30050", "29650", "29800"),  # nearer the high: 30000, 30050, 29650 (+40 s: buy 29700 fills)
        ("29800", "30100", "29790", "30050"),  # nearer the low: 29800, 29790, 30100 (+40 s: take-profit fills)
    )
    slow, _ = both(data, config())
    # level 1: 30000 × 0.99 = 29700, 100 / 29700 = 0.0033670… → 0.00336; level 2: 29400, 0.0034013… → 0.00340
    buy, sell = D("29700") * D("0.00336"), D("29997") * D("0.00336")
    assert [(f.side, f.price, f.amount, f.fee, f.executed_at) for f in slow.fills] == [
        (Side.BUY, D("29700"), D("0.00336"), fee(buy), T0 + MINUTE + timedelta(seconds=40)),
        # take-profit 29700 × 1.01 = 29997, placed at the buy's point, filled when the path goes above it
        (Side.SELL, D("29997"), D("0.00336"), fee(sell), T0 + 2 * MINUTE + timedelta(seconds=40)),
    ]
    assert [(o.role.value, o.price, o.created_at - T0) for o in slow.orders] == [
        ("grid_buy", D("29700.00"), timedelta(0)),
        ("grid_buy", D("29400.00"), timedelta(0)),
        ("take_profit", D("29997.00"), MINUTE + timedelta(seconds=40)),
        ("grid_buy", D("29700.00"), 2 * MINUTE + timedelta(seconds=40)),  # the level again, once it is free
    ]
    realized = sell - fee(sell) - (buy + fee(buy))
    assert realized == D("0.79733808")
    assert slow.realized_pnl == realized
    assert slow.unrealized_pnl == 0
    assert slow.grid_cycles == 1
    assert slow.fees == {"USDT": fee(buy) + fee(sell)}
    assert slow.equity_end == D(10000) + realized
    assert slow.time_in_market == timedelta(minutes=1)  # from the buy at 1:40 to the take-profit at 2:40
    # the buys rest 99.792 + 99.96 locked with the fee reserve at the higher rate; then the lot's cost + its fee
    reserve = (buy * (1 + FEE)).quantize(D("1e-8")) + (D("29400") * D("0.0034") * (1 + FEE)).quantize(D("1e-8"))
    assert slow.capital_peak >= reserve
    summary = slow.summary()
    assert (summary["realized_pnl"], summary["fills"], summary["grid_cycles"]) == ("0.79733808", 2, 1)
    assert summary["time_in_market_seconds"] == 60 and summary["start"] == "2024-01-01T00:00:00+00:00"
    # buy and hold: everything bought at the first open 30000 (taker fee), valued at the last close 30050
    assert slow.buy_and_hold_pnl == D(10000) * (1 - FEE) / D(30000) * D(30050) - D(10000)


def test_a_stop_loss_sells_at_the_point_where_the_path_crossed_it_with_slippage_and_the_taker_fee():
    data = candles(
        ("30000", "30000", "30000", "30000"),
        ("30000", "30000", "29300", "29350"),  # down to 29300 at +40 s: both buys fill, lot 1 is 1.35 % down
        ("29350", "29360", "29340", "29350"),
    )
    slow, _ = both(data, config(stop_loss_pct=D(1)), slippage_pct=D("0.05"))
    at = T0 + MINUTE + timedelta(seconds=40)
    stop_price = BTC.price_down(D("29300") * (1 - D("0.0005")))
    assert stop_price == D("29285.35")
    assert [(f.side, f.price, f.amount, f.executed_at) for f in slow.fills] == [
        (Side.BUY, D("29700"), D("0.00336"), at),
        (Side.BUY, D("29400"), D("0.00340"), at),
        (Side.SELL, stop_price, D("0.00336"), at),  # 29300 < 29700 × 0.99 = 29403: sold at that very point
    ]
    [stopped] = slow.closed_positions
    assert stopped.exit_reason == "stop_loss"
    buy, sold = D("29700") * D("0.00336"), stop_price * D("0.00336")
    assert stopped.realized_pnl == sold - fee(sold) - (buy + fee(buy))
    assert slow.realized_pnl == D("-1.59141477")
    # lot 2 (entry 29400, stop 29106) stays, with its take-profit at 29694, valued at the last close
    assert len(slow.open_positions) == 1
    cost = D("29400") * D("0.0034")
    assert slow.unrealized_pnl == D("0.0034") * D("29350") - (cost + fee(cost))
    assert [o.price for o in slow.orders if o.role.value == "take_profit"] == [D("29694.00")]


def test_a_time_stop_sells_at_market_at_the_first_point_strictly_after_its_time():
    data = candles(
        ("30000", "30000", "30000", "30000"),  # the ladder at the open: 29700 (0.00336), 29400 (0.00340)
        ("30000", "30000", "29650", "29690"),  # nearer the high: 30000, then 29650 at 1:40, where the buy fills
        ("29690", "29690", "29690", "29690"),
        ("29690", "29690", "29690", "29690"),
        # nearer the high: 29695 at 4:20, 29675 at 4:40, 29680 at 4:59.999. The lot opened at 1:40 is due after
        # 3 minutes, at 4:40: the point at 4:40 itself is not after it, the close at 4:59.999 is.
        ("29690", "29695", "29675", "29680"),
        ("29680", "29680", "29680", "29680"),
    )
    slow, _ = both(data, config(time_stop_hours=D("0.05")), slippage_pct=D("0.05"))
    sold_at = T0 + 5 * MINUTE - timedelta(milliseconds=1)
    # at market: 29680 × (1 − 0.05 %) = 29665.16, taker fee
    assert [(f.side, f.price, f.amount, f.executed_at) for f in slow.fills] == [
        (Side.BUY, D("29700"), D("0.00336"), T0 + MINUTE + timedelta(seconds=40)),
        (Side.SELL, D("29665.16"), D("0.00336"), sold_at),
    ]
    [lot] = slow.closed_positions
    assert (lot.exit_reason, lot.closed_at) == ("time_stop", sold_at)
    # its take-profit at 29997 was canceled first; the level 29700 is above the price afterwards: not placed again
    assert [(o.role.value, o.price, o.status.value) for o in slow.orders] == [
        ("grid_buy", D("29700.00"), "filled"),
        ("grid_buy", D("29400.00"), "open"),
        ("take_profit", D("29997.00"), "canceled"),
        ("time_stop", None, "filled"),
    ]
    # 99.6749376 − 0.09967493 − (99.792 + 0.099792)
    buy, sold = D("29700") * D("0.00336"), D("29665.16") * D("0.00336")
    assert slow.realized_pnl == sold - fee(sold) - (buy + fee(buy)) == D("-0.31652933")


def test_the_daily_loss_limit_pauses_buys_until_the_local_midnight():
    # Tokyo is UTC+9: its midnight is 15:00 UTC, inside one UTC day, so only the local day can end the pause.
    from zoneinfo import ZoneInfo

    start = datetime(2024, 1, 1, 14, 56, tzinfo=UTC)  # 23:56 in Tokyo
    data = candles(
        ("30000", "30000", "30000", "30000"),  # 14:56 the ladder: one level, 29700 (0.00336)
        ("30000", "30000", "29300", "29350"),  # 14:57:40 at 29300: the buy fills, and its 1 % stop 29403 is crossed
        ("29350", "29350", "29350", "29350"),  # paused
        ("29350", "29350", "29350", "29350"),  # paused
        ("29350", "29360", "29340", "29350"),  # 15:00:00.000, midnight in Tokyo: a new day, buys resume
        ("29350", "29350", "29000", "29100"),  # nearer the high: 29000 at 15:01:40 fills the new buy
        start=start,
    )
    cfg = config(grid_levels=1, stop_loss_pct=D(1), daily_loss_limit=D(1))
    slow, _ = both(data, cfg, slippage_pct=D("0.05"), tz=ZoneInfo("Asia/Tokyo"))
    stopped = start + MINUTE + timedelta(seconds=40)
    midnight = datetime(2024, 1, 1, 15, tzinfo=UTC)
    # sold at 29300 × (1 − 0.05 %) = 29285.35: 98.398776 − 0.09839877 − (99.792 + 0.099792) = −1.59141477, beyond
    # the limit of 1 USDT: no buy from then until midnight. At midnight nothing rests and no lot is open, so the
    # ladder anchors at the price: 29350 × 0.99 = 29056.50, 100 / 29056.50 = 0.0034415… → 0.00344.
    assert [(f.side, f.price, f.amount, f.executed_at) for f in slow.fills] == [
        (Side.BUY, D("29700"), D("0.00336"), stopped),
        (Side.SELL, D("29285.35"), D("0.00336"), stopped),
        (Side.BUY, D("29056.50"), D("0.00344"), midnight + MINUTE + timedelta(seconds=40)),
    ]
    assert slow.closed_positions[0].realized_pnl == D("-1.59141477")
    assert [(o.role.value, o.price, o.created_at) for o in slow.orders if o.role.value == "grid_buy"] == [
        ("grid_buy", D("29700.00"), start),
        ("grid_buy", D("29056.50"), midnight),
    ]


def test_buys_resume_at_the_point_where_the_cooldown_ends():
    # One losing exit starts a 2-minute cooldown: the stop at 14:57:40 pauses buys until 14:59:40.
    start = datetime(2024, 1, 1, 14, 56, tzinfo=UTC)
    data = candles(
        ("30000", "30000", "30000", "30000"),
        ("30000", "30000", "29300", "29350"),  # the buy at 29700 fills and is stopped out at 14:57:40
        ("29350", "29350", "29350", "29350"),  # cooling down
        ("29350", "29400", "29340", "29390"),  # nearer the low: 29340 at 14:59:20, then 29400 at 14:59:40
        ("29390", "29390", "29390", "29390"),
        start=start,
    )
    cfg = config(grid_levels=1, stop_loss_pct=D(1), max_consecutive_losses=1, cooldown_minutes=2)
    slow, _ = both(data, cfg, slippage_pct=D("0.05"))
    ends = start + 3 * MINUTE + timedelta(seconds=40)
    # At 14:59:40 the cooldown is over (paused only while now < its end): the ladder anchors at that point's price,
    # 29400 × 0.99 = 29106.00, 100 / 29106 = 0.0034357… → 0.00343; not at 14:59:20, still in the cooldown.
    assert [(o.role.value, o.price, o.amount, o.created_at) for o in slow.orders] == [
        ("grid_buy", D("29700.00"), D("0.00336"), start),
        # the stop is checked before a take-profit is placed, in the tick that books the buy: none is placed
        ("stop_loss", None, D("0.00336"), start + MINUTE + timedelta(seconds=40)),
        ("grid_buy", D("29106.00"), D("0.00343"), ends),
    ]
    assert slow.realized_pnl == D("-1.59141477")


def test_a_buy_that_is_marketable_when_placed_fills_at_the_current_price_with_the_taker_fee():
    # The ladder is placed at the open 30000; the next candle opens far below both levels: it fills the buys at
    # their limits on the path, and once the lot closes the re-placed level 29700 is below the price again.
    data = candles(("30000", "30000", "30000", "30000"), ("29000", "29000", "29000", "29000"))
    slow, _ = both(data, config())
    assert [(f.price, f.fee) for f in slow.fills] == [
        (D("29700"), fee(D("29700") * D("0.00336"))),
        (D("29400"), fee(D("29400") * D("0.00340"))),
    ]


def test_fees_in_the_base_coin_come_off_what_the_buy_receives():
    data = candles(("30000", "30000", "30000", "30000"), ("30000", "30050", "29650", "29800"))
    slow, _ = both(data, config(), buy_fee_in_base=True)
    [buy] = slow.fills
    assert (buy.fee, buy.fee_currency) == ((D("0.00336") * FEE).quantize(D("1e-8"), ROUND_FLOOR), "BTC")
    assert slow.fees == {"BTC": buy.fee}
    assert slow.fees_quote == buy.fee * D("29700")


def test_a_run_is_deterministic():
    data = load_series([ROOT / "exchanges/data/replay/BTCUSDT-1m-2022-05-05.csv"])
    cfg = config(grid_levels=5, buy_offset_pct=D("0.3"), sell_offset_pct=D("0.4"), reprice_threshold_pct=D("0.5"))
    first = run_backtest(data, cfg, BTC)
    second = run_backtest(data, cfg, BTC)
    assert first == second
    assert len(first.fills) > 5


# --- fast mode = every point ---------------------------------------------------------------------------------------
DATA_SETS = [
    ("exchanges/data/replay/BTCUSDT-1m-2022-05-05.csv", "BTC/USDT"),
    ("exchanges/data/replay/ETHUSDT-1h-2021-01.csv", "ETH/USDT"),
    ("tests/fixtures/BTCUSDT-1m-2022-05-05.csv", "BTC/USDT"),
    ("tests/fixtures/BTCUSDT-1h-2018-02-07_11-outage.csv", "BTC/USDT"),
    ("tests/fixtures/BTCUSDT-1h-2022-01.csv", "BTC/USDT"),
]
CONFIGS = {
    "plain": {"grid_levels": 5, "buy_offset_pct": D("0.3"), "sell_offset_pct": D("0.4")},
    "stops": {
        "grid_levels": 4,
        "buy_offset_pct": D("0.5"),
        "sell_offset_pct": D("0.8"),
        "stop_loss_pct": D("1.5"),
        "time_stop_hours": D(3),
        "max_positions": 5,
    },
    "short of funds": {
        "grid_levels": 8,
        "buy_offset_pct": D("0.2"),
        "sell_offset_pct": D("0.5"),
        "stop_loss_pct": D(2),
        "max_positions": 8,
        "order_size_quote": D(150),
    },
    "pauses": {
        "grid_levels": 6,
        "buy_offset_pct": D("0.4"),
        "sell_offset_pct": D("0.3"),
        "stop_loss_pct": D(1),
        "daily_loss_limit": D(2),
        "max_consecutive_losses": 2,
        "cooldown_minutes": 45,
        "max_positions": 4,
    },
}


@pytest.mark.parametrize(("path", "symbol"), DATA_SETS, ids=[Path(p).stem for p, _ in DATA_SETS])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_fast_mode_gives_exactly_the_orders_and_fills_of_every_point_on_the_shipped_data(path, symbol, name):
    cfg = config(symbol=symbol, **{"order_size_quote": D(50), "reprice_threshold_pct": D("0.6"), **CONFIGS[name]})
    slow, fast = both(load_series([ROOT / path]), cfg, initial_quote=D(1000))
    assert slow.fills, "the scenario trades"
    assert fast.ticks < slow.ticks  # and skips what cannot matter


EXAMPLES = int(os.environ.get("BACKTEST_EXAMPLES", "25"))


@st.composite
def random_candles(draw: st.DrawFn) -> list[Candle]:
    price = D(30000)
    out: list[Candle] = []
    at = T0
    for _ in range(draw(st.integers(5, 120))):
        at += MINUTE * draw(st.sampled_from([1, 1, 1, 1, 3]))  # now and then a gap
        moves = [D(draw(st.integers(-150, 150))) for _ in range(3)]
        o = price
        c = (o + moves[0]).quantize(D("0.01"))
        h = max(o, c) + abs(moves[1])
        low = min(o, c) - abs(moves[2])
        out.append(Candle(at, o, h, low, c))
        price = c + draw(st.sampled_from([D(0), D(0), D(-40), D(25)]))
    return out


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    random_candles(),
    st.fixed_dictionaries(
        {
            "grid_levels": st.integers(1, 6),
            "buy_offset_pct": st.sampled_from([D("0.1"), D("0.3"), D(1)]),
            "sell_offset_pct": st.sampled_from([D("0.1"), D("0.3"), D(1)]),
            "reprice_threshold_pct": st.sampled_from([D("0.2"), D(1)]),
            "max_positions": st.integers(1, 8),
            "stop_loss_pct": st.sampled_from([None, D("0.5"), D(2)]),
            "time_stop_hours": st.sampled_from([None, D("0.05"), D(1)]),
            "daily_loss_limit": st.sampled_from([None, D(1)]),
            "max_consecutive_losses": st.sampled_from([None, 1, 2]),
            "cooldown_minutes": st.sampled_from([0, 5]),
        }
    ),
    st.sampled_from([D(300), D(10000)]),
    st.booleans(),
    st.sampled_from([0, 2, 4]),
)
def test_fast_mode_equals_every_point_on_random_series(data, params, quote, fee_in_base, open_order_cap):
    market = replace(BTC, max_open_orders=open_order_cap)
    both(data, config(order_size_quote=D(100), **params), market, initial_quote=quote, buy_fee_in_base=fee_in_base)


# --- the paper engine, gaps ----------------------------------------------------------------------------------------
def test_a_close_only_series_gives_the_fills_of_the_paper_engine_ticking_through_the_same_prices():
    closes = ["30000", "29850", "29690", "29800", "29990", "30100", "29500", "29350", "29720", "30000", "30400"]
    data = candles(*((c, c, c, c) for c in closes))
    cfg = config(grid_levels=3, buy_offset_pct=D("0.5"), sell_offset_pct=D("0.5"))
    result = run_backtest(data, cfg, BTC, BacktestOptions(mode=Mode.EVERY_POINT))
    harness = Harness(
        closes[0],
        start=T0,
        **{k: getattr(cfg, k) for k in ("grid_levels", "order_size_quote")},
        buy_offset_pct=cfg.buy_offset_pct,
        sell_offset_pct=cfg.sell_offset_pct,
    )
    harness.start()
    for price in closes[1:]:
        harness.step(price, seconds=60)
    paper = sorted(harness.journal.fills.values(), key=lambda f: f.executed_at)
    assert [(f.side, f.price, f.amount, f.fee, f.executed_at) for f in result.fills] == [
        (f.side, f.price, f.amount, f.fee, f.executed_at) for f in paper
    ]
    assert len(result.fills) >= 4


def test_a_gap_is_reported_and_nothing_is_placed_or_filled_inside_it():
    data = load_series([ROOT / "tests/fixtures/BTCUSDT-1h-2018-02-07_11-outage.csv"])
    cfg = config(grid_levels=4, buy_offset_pct=D(1), sell_offset_pct=D(1), stop_loss_pct=D(5))
    slow, fast = both(data, cfg)
    start, end = datetime(2018, 2, 8, 1, tzinfo=UTC), datetime(2018, 2, 9, 9, 28, 14, 789000, tzinfo=UTC)
    assert [(g.start, g.end, g.length) for g in slow.gaps] == [(start, end, end - start)]
    assert fast.gaps == slow.gaps
    assert slow.fills
    assert not [f for f in slow.fills if start <= f.executed_at < end]
    assert not [o for o in slow.orders if start <= o.created_at < end]


def test_a_gap_holds_back_fills_that_its_prices_would_have_made():
    # The data jumps over an hour in which the price must have passed the buy at 29700: nothing fills in it,
    # and the buy fills at its limit on the first candle after it, when its path goes below.
    data = [
        *candles(("30000", "30000", "30000", "30000"), ("30000", "30000", "30000", "30000")),
        *candles(("29650", "29660", "29640", "29650"), ("29650", "29650", "29650", "29650"), start=T0 + HOUR),
    ]
    slow, _ = both(data, config())
    assert [(g.start, g.end) for g in slow.gaps] == [(T0 + 2 * MINUTE, T0 + HOUR)]
    assert [f.executed_at for f in slow.fills] == [T0 + HOUR]


def test_progress_is_reported_up_to_the_last_candle():
    seen: list[tuple[int, int]] = []
    data = load_series([ROOT / "exchanges/data/replay/BTCUSDT-1m-2022-05-05.csv"])
    run_backtest(
        data,
        config(),
        BTC,
        BacktestOptions(progress=lambda done, total: seen.append((done, total)), progress_every=500),
    )
    assert seen[-1] == (1440, 1440)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_the_market_rules_must_be_the_strategys():
    with pytest.raises(ValueError, match="ETH/USDT"):
        run_backtest(candles(("1", "1", "1", "1")), config(), replace(BTC, symbol="ETH/USDT"))


@pytest.mark.parametrize("stop_loss_pct", [None, D(1)])
def test_the_max_drawdown_is_the_largest_fall_of_equity_from_an_earlier_high_over_every_point(stop_loss_pct):
    from trading.backtest import _Run
    from trading.equity import PathEquity

    data = load_series([ROOT / "exchanges/data/replay/BTCUSDT-1m-2022-05-05.csv"])
    cfg = config(grid_levels=6, buy_offset_pct=D("0.3"), sell_offset_pct=D("0.4"), stop_loss_pct=stop_loss_pct)
    run = _Run(data, cfg, BTC, BacktestOptions(initial_base=D("0.01")))
    result = run.run()
    equity = PathEquity(data, run.holdings, run.points, run.low_first)
    peak, worst, worst_peak = None, D(0), D(0)
    for point in range(4 * len(data)):  # by hand: every point, in Decimal
        value = equity.at_point(point)
        peak = value if peak is None else max(peak, value)
        if peak - value > worst:
            worst, worst_peak = peak - value, peak
    assert len(run.holdings) > 10
    assert result.max_drawdown == worst > 0
    assert result.max_drawdown_pct == worst / worst_peak * 100
    # both ways of finding it: one float pass over every point, and stretch by stretch
    assert equity._located_drawdown() == equity._drawdown_by_stretch() == (worst, worst_peak)


def test_an_exception_from_the_progress_callback_cancels_the_run():
    class Cancelled(Exception):
        pass

    def cancel(done: int, total: int) -> None:
        raise Cancelled

    data = load_series([ROOT / "exchanges/data/replay/BTCUSDT-1m-2022-05-05.csv"])
    with pytest.raises(Cancelled):
        run_backtest(data, config(), BTC, BacktestOptions(mode=Mode.EVERY_POINT, progress=cancel, progress_every=10))


def test_on_hourly_data_a_stop_loss_sells_at_the_first_point_of_the_path_below_its_stop():
    # The case: ticking once an hour at the open, a 15 % stop sold 28.7 % below entry. Here each stop sells
    # at the first point of the path under entry × (1 − stop %), whatever the candle's size.
    data = load_series([ROOT / "exchanges/data/replay/ETHUSDT-1h-2021-01.csv"])
    cfg = config(symbol="ETH/USDT", grid_levels=5, buy_offset_pct=D(2), sell_offset_pct=D(4), stop_loss_pct=D(5))
    result = run_backtest(data, cfg, market_rules("ETH/USDT"), BacktestOptions(slippage_pct=D(0)))
    stopped = [lot for lot in result.closed_positions if lot.exit_reason == "stop_loss"]
    assert len(stopped) >= 2
    path = [point for i in range(len(data)) for point in candle_path(data.candle(i), timedelta(hours=1))]
    for lot in stopped:
        stop = lot.entry_price * D("0.95")
        crossed = next((at, price) for at, price in path if at >= lot.opened_at and price < stop)
        assert lot.closed_at == crossed[0]
        assert lot.exit_price == market_rules("ETH/USDT").price_down(crossed[1])


@pytest.mark.parametrize(
    "path",
    ["tests/fixtures/binance/klines_BTCUSDT_1m.json", "tests/fixtures/binance_spot_BTCUSDT_1m_2020-10-31_head.json"],
)
def test_fast_mode_equals_every_point_on_the_shipped_json_candles(path):
    # Minutes of a quiet market: a tight grid, so that it trades in them.
    cfg = config(grid_levels=4, buy_offset_pct=D("0.03"), sell_offset_pct=D("0.05"), reprice_threshold_pct=D("0.05"))
    slow, _ = both(load_series([ROOT / path]), cfg)
    assert len(slow.fills) >= 2


def test_the_markets_open_order_cap_holds_back_orders_alike_in_both_modes():
    # Binance's MAX_NUM_ORDERS at 3: six levels and their take-profits cannot all rest; what waits, waits in both.
    data = load_series([ROOT / "exchanges/data/replay/BTCUSDT-1m-2022-05-05.csv"])
    cfg = config(grid_levels=6, buy_offset_pct=D("0.3"), sell_offset_pct=D("0.4"), max_positions=5)
    slow, _ = both(data, cfg, replace(BTC, max_open_orders=3))
    assert slow.fills
    open_at_once = 0
    events = sorted(
        [(o.created_at, 1) for o in slow.orders if o.status.value != "rejected"]
        + [(o.closed_at, -1) for o in slow.orders if o.closed_at is not None and o.status.value != "rejected"]
    )
    for _, change in events:
        open_at_once += change
        assert open_at_once <= 3


def test_a_take_profit_outside_the_price_band_waits_for_the_price_alike_in_both_modes():
    # PERCENT_PRICE at 0.5 % above the price: a take-profit 1 % above its buy may go only once the price has come
    # back within 0.5 % of it, at whatever point of the path that happens.
    from exchanges.base import PriceBand

    data = load_series([ROOT / "exchanges/data/replay/BTCUSDT-1m-2022-05-05.csv"])
    market = replace(BTC, sell_band=PriceBand(D("0.2"), D("1.005")), buy_band=None)
    cfg = config(grid_levels=4, buy_offset_pct=D("0.3"), sell_offset_pct=D(1))
    slow, _ = both(data, cfg, market)
    take_profits = [o for o in slow.orders if o.role.value == "take_profit"]
    buys = {f.client_order_id: f for f in slow.fills if f.side is Side.BUY}
    late = [o for o in take_profits if o.parent is not None and o.created_at > buys[o.parent].executed_at]
    assert late, "some take-profits had to wait for the price"


def test_buys_outside_the_price_band_wait_for_the_price_alike_in_both_modes():
    # PERCENT_PRICE at 0.5 % below the price: of four levels 0.3 % apart only the first may rest at once; the
    # others go when the price comes near them.
    from exchanges.base import PriceBand

    data = load_series([ROOT / "exchanges/data/replay/BTCUSDT-1m-2022-05-05.csv"])
    market = replace(BTC, buy_band=PriceBand(D("0.995"), D(5)), sell_band=None)
    cfg = config(grid_levels=4, buy_offset_pct=D("0.3"), sell_offset_pct=D("0.4"))
    slow, _ = both(data, cfg, market)
    first_tick = slow.orders[0].created_at
    assert [o.price for o in slow.orders if o.created_at == first_tick] == [slow.orders[0].price]
    assert len({o.price for o in slow.orders if o.role.value == "grid_buy"}) > 2


# --- a real month end to end ------------------------------------------------------------------------------------------
def test_a_real_month_runs_end_to_end_with_the_fills_the_data_says():
    # Binance spot BTCUSDT, January 2022, 744 hourly candles (tests/fixtures/README.md): BTC fell from 46,216.93 to
    # 38,466.90. Five levels 1 % apart, take-profits 1.5 % up, trailing up past 2 %.
    data = load_series([ROOT / "tests/fixtures/BTCUSDT-1h-2022-01.csv"])
    cfg = config(
        grid_levels=5, buy_offset_pct=D(1), sell_offset_pct=D("1.5"), reprice_threshold_pct=D(2), max_positions=5
    )
    slow, fast = both(data, cfg, initial_quote=D(1000))
    assert fast.ticks < slow.ticks == 4 * 744
    hour = datetime(2022, 1, 1, tzinfo=UTC)
    assert (slow.start, slow.end, slow.candles, slow.gaps) == (hour, hour + 744 * HOUR, 744, [])

    # By hand from the file. The ladder goes at the first open 46216.93: 46216.93 × 0.99 = 45754.7607 → 45754.76,
    # then 45292.59 … 43906.08; the lowest low before 05:00 is 46208.37, so none fills. Candle 05:00 (o 46711.05,
    # h 47555.55, l 46673.94) is nearer its low: low at 05:20, high at 05:40, and 47555.55 > 46216.93 × 1.02 =
    # 47141.2686: the ladder trails up there, its first level 47555.55 × 0.99 = 47079.9945 → 47079.99.
    first = [o for o in slow.orders if o.created_at == hour]
    assert [o.price for o in first] == [D("45754.76"), D("45292.59"), D("44830.42"), D("44368.25"), D("43906.08")]
    assert {o.status.value for o in first} == {"canceled"}
    trailed = hour + 5 * HOUR + 40 * MINUTE
    # 47555.55 × 0.99, 0.98, 0.97, 0.96, 0.95, each down to the tick
    assert [o.price for o in slow.orders if o.created_at == trailed] == [
        D("47079.99"),
        D("46604.43"),
        D("46128.88"),
        D("45653.32"),
        D("45177.77"),
    ]
    # Candle 06:00 (o 47192.56, h 47324.42, l 46940.00) is nearer its high: high at 06:20, low at 06:40, where the
    # path first goes below 47079.99. 100 / 47079.99 = 0.0021240… → 0.00212 BTC; fee 0.1 % of 99.8095788.
    buy = slow.fills[0]
    assert (buy.side, buy.price, buy.amount, buy.executed_at) == (
        Side.BUY,
        D("47079.99"),
        D("0.00212"),
        hour + 6 * HOUR + 40 * MINUTE,
    )
    assert buy.fee == fee(D("99.8095788")) == D("0.09980957")
    # Its take-profit 47079.99 × 1.015 = 47786.18985 → 47786.19 (up to the tick) fills in candle 17:00 (o 47268.61,
    # h 47954.63, l 47238.81: low first), at its high at 17:40 — the first point above 47786.19.
    sell = slow.fills[1]
    assert (sell.side, sell.price, sell.amount, sell.executed_at) == (
        Side.SELL,
        D("47786.19"),
        D("0.00212"),
        hour + 17 * HOUR + 40 * MINUTE,
    )
    first_lot = slow.closed_positions[0]
    # 101.3067228 − 0.10130672 − (99.8095788 + 0.09980957)
    assert first_lot.realized_pnl == D("1.29602771")

    # Every limit order fills at its price at the first point of the path after it was placed that goes strictly
    # past it (no gap here): checked for every fill of the month.
    path = [point for i in range(len(data)) for point in candle_path(data.candle(i), HOUR)]
    orders = {o.client_order_id: o for o in slow.orders}
    for fill in slow.fills:
        order = orders[fill.client_order_id]
        assert order.price is not None
        limit = order.price
        crossed = next(
            at
            for at, price in path
            if at > order.created_at and (price < limit if order.side is Side.BUY else price > limit)
        )
        assert (fill.executed_at, fill.price) == (crossed, limit)

    # The realized PnL is the sum of the closed lots, each from its own two fills (fees in USDT).
    by_order = {f.client_order_id: f for f in slow.fills}
    lots = []
    for lot in slow.closed_positions:
        entry, exit_ = by_order[lot.entry_client_order_id], by_order[lot.exit_client_order_id or ""]
        assert exit_.amount == entry.amount
        lots.append(exit_.price * exit_.amount - exit_.fee - (entry.price * entry.amount + entry.fee))
    assert lots == [lot.realized_pnl for lot in slow.closed_positions]
    assert slow.realized_pnl == sum(lots) > 0
    assert slow.grid_cycles == len(lots) >= 5
    # The open lots at the last close 38466.90; the equity is the cash and the coins held, nothing else.
    opened = [by_order[lot.entry_client_order_id] for lot in slow.open_positions]
    last = D("38466.90")
    assert slow.unrealized_pnl == sum(f.amount * last - (f.price * f.amount + f.fee) for f in opened)
    assert slow.equity_end == D(1000) + slow.realized_pnl + slow.unrealized_pnl
    # Buy and hold: 1000 USDT less the 0.1 % taker fee bought at the first open, valued at the last close.
    assert slow.buy_and_hold_pnl == D(1000) * D("0.999") / D("46216.93") * last - D(1000)
    assert round(slow.buy_and_hold_pnl, 2) == D("-168.52")
