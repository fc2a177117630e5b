"""Downloading candles for backtests (exchanges/ccxt/ohlcv.py): real CCXT code against the fake Binance, which
serves the real 1-minute day of tests/fixtures/BTCUSDT-1m-2022-05-05.csv as klines pages."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis

from exchanges.backoff import Backoff
from exchanges.base import NetworkError
from exchanges.ccxt.client import make_client
from exchanges.ccxt.exchange import CcxtExchange
from exchanges.ccxt.limits import BinanceSpotPlan
from exchanges.ccxt.ohlcv import download_ohlcv, market_rules
from exchanges.ccxt.ratelimit import SharedRateLimiter
from exchanges.clock import ManualClock
from exchanges.paper.series import load_series
from tests.ccxt.conftest import Sleeps
from tests.ccxt.fake_binance import FakeBinance, Reply, klines_from_dump
from trading.runtime.history import history_exchange

DAY_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "BTCUSDT-1m-2022-05-05.csv"
DAY = datetime(2022, 5, 5, tzinfo=UTC)
NEXT_DAY = DAY + timedelta(days=1)
MINUTE_MS = 60_000


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


@pytest.fixture
def day(transport: FakeBinance) -> list[list[Any]]:
    rows = klines_from_dump(DAY_FILE)
    transport.klines[("BTCUSDT", "1m")] = rows
    return rows


@pytest.fixture
def exchange(transport: FakeBinance, limiter: SharedRateLimiter, scope: str, sleeps: Sleeps) -> CcxtExchange:
    """An unsigned adapter, as downloads use: public endpoints, the IP's shared limits."""
    client = make_client("binance", limiter=limiter)
    client.aresbot_plan = BinanceSpotPlan("binance", "public", scope)
    return CcxtExchange(client, sleep=sleeps, backoff=Backoff(attempts=3, base=0.01))


def klines_sent(fake: FakeBinance) -> list[int]:
    return [int(r.params["startTime"]) for r in fake.sent("GET", "/api/v3/klines")]


def download(exchange: CcxtExchange, tmp_path: Path, since: datetime, until: datetime | None, **kw: Any) -> Any:
    kw.setdefault("clock", ManualClock(NEXT_DAY + timedelta(hours=1)))
    return download_ohlcv(exchange, "BTC/USDT", "1m", since, until, cache_dir=tmp_path, **kw)


def test_it_pages_through_the_span_once_and_returns_the_exchanges_candles(exchange, transport, day, tmp_path):
    series = download(exchange, tmp_path, DAY, NEXT_DAY, page_limit=100)

    starts = klines_sent(transport)
    assert len(starts) == 15  # 1,440 candles, 100 a page
    assert starts == [ms(DAY) + i * 100 * MINUTE_MS for i in range(15)]
    assert all(r.params["limit"] == "100" for r in transport.sent("GET", "/api/v3/klines"))
    recorded = load_series([DAY_FILE])
    assert len(series) == 1440
    assert series.open_ms.tolist() == recorded.open_ms.tolist()
    assert [series.candle(i) for i in range(1440)] == [recorded.candle(i) for i in range(1440)]


def test_it_uses_the_exchanges_page_limit(exchange, transport, day, tmp_path):
    download(exchange, tmp_path, DAY, NEXT_DAY)

    assert [r.params["limit"] for r in transport.sent("GET", "/api/v3/klines")] == ["1000", "1000"]
    assert klines_sent(transport) == [ms(DAY), ms(DAY) + 1000 * MINUTE_MS]


def test_a_second_run_reads_the_cache_and_asks_the_exchange_nothing(exchange, transport, day, tmp_path):
    first = download(exchange, tmp_path, DAY, NEXT_DAY)
    sent = len(transport.requests)

    again = download(exchange, tmp_path, DAY, NEXT_DAY)

    assert len(transport.requests) == sent
    assert again.rows == first.rows
    assert sorted(p.name for p in (tmp_path / "binance" / "BTC-USDT" / "1m").iterdir()) == [
        ".2022-05.lock",
        "2022-05.csv",
        "2022-05.json",
    ]
    assert load_series([tmp_path / "binance" / "BTC-USDT" / "1m" / "2022-05.csv"]).rows == first.rows


def test_a_part_of_the_cached_span_is_cut_from_the_cache(exchange, transport, day, tmp_path):
    download(exchange, tmp_path, DAY, NEXT_DAY)
    sent = len(transport.requests)

    part = download(exchange, tmp_path, DAY + timedelta(hours=3), DAY + timedelta(hours=4))

    assert len(transport.requests) == sent
    assert len(part) == 60
    assert part.open_ms[0] == ms(DAY + timedelta(hours=3))
    assert part.where(0) == (str(tmp_path / "binance" / "BTC-USDT" / "1m" / "2022-05.csv"), 181)


def test_a_partial_cache_fetches_only_what_it_lacks(exchange, transport, day, tmp_path):
    download(exchange, tmp_path, DAY + timedelta(hours=6), DAY + timedelta(hours=12))
    before = len(klines_sent(transport))

    series = download(exchange, tmp_path, DAY, NEXT_DAY)

    fetched = klines_sent(transport)[before:]
    assert fetched == [ms(DAY), ms(DAY + timedelta(hours=12))]  # the morning, then the afternoon
    assert len(series) == 1440
    index = json.loads((tmp_path / "binance" / "BTC-USDT" / "1m" / "2022-05.json").read_text())
    assert index["covered"] == [[ms(DAY), ms(NEXT_DAY)]]


def test_the_candle_still_forming_is_left_out_and_fetched_by_a_later_run(exchange, transport, day, tmp_path):
    noon = DAY + timedelta(hours=12)
    clock = ManualClock(noon + timedelta(seconds=30))

    series = download(exchange, tmp_path, DAY, None, clock=clock)

    assert series.open_ms[-1] == ms(noon) - MINUTE_MS  # the fake serves 12:00 too: it is not closed yet
    first = len(klines_sent(transport))
    clock.set(noon + timedelta(minutes=5, seconds=9))
    assert len(download(exchange, tmp_path, DAY, None, clock=clock)) == 12 * 60 + 4  # 12:04 has not settled yet
    clock.set(noon + timedelta(minutes=5, seconds=10))
    later = download(exchange, tmp_path, DAY, None, clock=clock)
    assert klines_sent(transport)[first:] == [ms(noon), ms(noon) + 4 * MINUTE_MS]
    assert len(later) == 12 * 60 + 5


def test_a_gap_stays_a_gap_and_is_not_asked_for_again(exchange, transport, day, tmp_path):
    outage = (ms(DAY + timedelta(hours=10)), ms(DAY + timedelta(hours=10, minutes=30)))
    transport.klines[("BTCUSDT", "1m")] = [r for r in day if not outage[0] <= r[0] < outage[1]]

    series = download(exchange, tmp_path, DAY, NEXT_DAY)
    sent = len(transport.requests)
    again = download(exchange, tmp_path, DAY + timedelta(hours=9), DAY + timedelta(hours=11))

    assert len(series) == 1440 - 30
    times = series.open_ms.tolist()
    assert not any(outage[0] <= t < outage[1] for t in times)
    assert times[times.index(outage[0] - MINUTE_MS) + 1] == outage[1]
    assert len(transport.requests) == sent
    assert len(again) == 120 - 30


def test_an_empty_page_ends_the_span_the_exchange_has_nothing_after_it(exchange, transport, day, tmp_path):
    transport.script("GET", "/api/v3/klines", None, Reply(200, []))

    series = download(exchange, tmp_path, DAY, NEXT_DAY)

    assert len(series) == 1000 and len(klines_sent(transport)) == 2
    index = json.loads((tmp_path / "binance" / "BTC-USDT" / "1m" / "2022-05.json").read_text())
    assert index["covered"] == [[ms(DAY), ms(NEXT_DAY)]]  # Binance: nothing from startTime on, up to now


def test_every_request_takes_its_weight_from_the_shared_limiter(exchange, transport, day, tmp_path, scope):
    client: redis.Redis = exchange.client.aresbot_limiter.redis

    download(exchange, tmp_path, DAY, NEXT_DAY, page_limit=200)

    # RAW_REQUESTS counts each request once: exchangeInfo and the 8 pages, all through the limiter.
    assert len(transport.requests) == 9
    assert int(client.get(f"ratelimit:binance:ip:{scope}:raw:sum") or 0) == 9
    assert client.zcard(f"ratelimit:binance:ip:{scope}:raw") == 9
    # REQUEST_WEIGHT: Binance's published weights, klines 2 each, exchangeInfo 20.
    assert int(client.get(f"ratelimit:binance:ip:{scope}:sum") or 0) == 8 * 2 + 20


def test_it_retries_a_failed_page_with_the_adapters_backoff(exchange, transport, day, tmp_path, sleeps):
    transport.script("GET", "/api/v3/klines", None, transport.error("unknown_status"))

    series = download(exchange, tmp_path, DAY, NEXT_DAY)

    assert len(series) == 1440
    assert klines_sent(transport) == [ms(DAY), ms(DAY) + 1000 * MINUTE_MS, ms(DAY) + 1000 * MINUTE_MS]
    assert len(sleeps) == 1


def test_an_error_mid_download_keeps_whole_months_and_writes_no_part_of_one(exchange, transport, day, tmp_path):
    # The real day moved to 2022-04-30 12:00 → 2022-05-01 12:00, so that the span crosses a month.
    shift = ms(datetime(2022, 4, 30, 12, tzinfo=UTC)) - ms(DAY)
    transport.klines[("BTCUSDT", "1m")] = [[r[0] + shift, *r[1:6], r[6] + shift, *r[7:]] for r in day]
    failure = transport.error("unknown_status")
    transport.script("GET", "/api/v3/klines", None, failure, failure, failure)
    since, until = datetime(2022, 4, 30, 12, tzinfo=UTC), datetime(2022, 5, 1, 12, tzinfo=UTC)

    with pytest.raises(NetworkError):
        download(exchange, tmp_path, since, until)

    folder = tmp_path / "binance" / "BTC-USDT" / "1m"
    assert sorted(p.name for p in folder.iterdir()) == [".2022-04.lock", "2022-04.csv", "2022-04.json"]
    assert len(load_series([folder / "2022-04.csv"])) == 720
    sent = len(klines_sent(transport))
    series = download(exchange, tmp_path, since, until)
    assert klines_sent(transport)[sent:] == [ms(datetime(2022, 5, 1, tzinfo=UTC))]  # only May is fetched now
    assert len(series) == 1440
    assert not [p for p in folder.iterdir() if p.suffix == ".tmp"]


def test_progress_counts_up_to_the_candles_expected(exchange, transport, day, tmp_path):
    seen: list[tuple[int, int]] = []
    transport.klines[("BTCUSDT", "1m")] = day[:1200]  # the last 240 minutes are missing: progress still ends

    download(exchange, tmp_path, DAY, NEXT_DAY, page_limit=500, progress=lambda d, t: seen.append((d, t)))

    assert seen[0] == (0, 1440)
    assert seen[-1] == (1440, 1440)
    assert (500, 1440) in seen and (1000, 1440) in seen
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert {t for _, t in seen} == {1440}


def test_a_cached_download_reports_its_progress_as_done(exchange, transport, day, tmp_path):
    download(exchange, tmp_path, DAY, NEXT_DAY)
    seen: list[tuple[int, int]] = []

    download(exchange, tmp_path, DAY, NEXT_DAY, progress=lambda d, t: seen.append((d, t)))

    assert seen[0] == (1440, 1440) and seen[-1] == (1440, 1440)


@pytest.mark.parametrize(
    ("symbol", "timeframe", "since", "until", "needle"),
    [
        ("NOPE/USDT", "1m", DAY, NEXT_DAY, "symbol 'NOPE/USDT'"),
        ("BTC/USDT", "7m", DAY, NEXT_DAY, "timeframe '7m'"),
        ("BTC/USDT", "1w", DAY, NEXT_DAY, "timeframe '1w'"),
        ("BTC/USDT", "1m", NEXT_DAY, DAY, "since 2022-05-06"),
        ("BTC/USDT", "1m", DAY, DAY, "must be before"),
    ],
)
def test_bad_input_is_a_value_error_naming_it(exchange, day, tmp_path, symbol, timeframe, since, until, needle):
    with pytest.raises(ValueError, match=re.escape(needle)):
        download_ohlcv(exchange, symbol, timeframe, since, until, cache_dir=tmp_path, clock=ManualClock(NEXT_DAY))
    assert not (tmp_path / "binance").exists()


def test_a_span_without_any_candle_says_so(exchange, day, tmp_path):
    with pytest.raises(ValueError, match="has no BTC/USDT 1m candle from 2021-01-01 00:00"):
        download(exchange, tmp_path, datetime(2021, 1, 1, tzinfo=UTC), datetime(2021, 1, 2, tzinfo=UTC))


def test_the_market_rules_come_from_the_exchanges_markets(exchange):
    rules = market_rules(exchange, "BTC/USDT")

    assert (rules.tick_size, rules.step_size, rules.min_notional) == (Decimal("0.01"), Decimal("0.00001"), Decimal(10))
    with pytest.raises(ValueError, match="symbol 'BTC/NOPE'"):
        market_rules(exchange, "BTC/NOPE")


def test_an_unknown_exchange_is_a_value_error_naming_it():
    for name in ("nope", "paper"):
        with pytest.raises(ValueError, match=f"exchange '{name}' is not a CCXT exchange id"):
            history_exchange(name)
