"""GET /api/strategies/{id}/candles: the price chart's candles from the account's exchange (recorded Binance answers,
through the CCXT adapter and its shared rate limiter, kept in Redis a few seconds) or from a paper account's price
source (a replayed data set, as far as the replay has got)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from exchanges.paper.store import DbPaperStore, book_key
from strategies.api import detail
from tests.ccxt.fake_binance import API_KEY, API_SECRET, Reply, Timeout
from tests.factories import make_account, make_paper_account, make_strategy

KLINES = json.loads((Path(__file__).parent / "fixtures" / "binance" / "klines_BTCUSDT_1m.json").read_text())
D = Decimal


def at_ms(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def candles(client, strategy, query: str = "") -> dict:
    r = client.get(f"/api/strategies/{strategy.pk}/candles{query}")
    assert r.status_code == 200, r.content
    return r.json()


# --- a Binance account: recorded klines --------------------------------------------------------------------------


@pytest.fixture
def on_binance(alice, redis_client):
    account = make_account(alice, "Main", "binance", api_key=API_KEY, api_secret=API_SECRET)
    return make_strategy(alice, account)


def test_binance_candles_are_the_exchanges_own(alice_client, on_binance, offline_exchanges):
    body = candles(alice_client, on_binance, "?timeframe=1m&limit=50")
    assert (body["symbol"], body["timeframe"], body["origin"]) == ("BTC/USDT", "1m", "binance")
    assert len(body["candles"]) == 50
    first, last = body["candles"][0], body["candles"][-1]
    assert datetime.fromisoformat(first["time"]) == at_ms(KLINES[-50][0])
    assert datetime.fromisoformat(first["market_time"]) == at_ms(KLINES[-50][0])
    assert [first[k] for k in ("open", "high", "low", "close", "volume")] == [
        format(D(v).normalize(), "f") for v in KLINES[-50][1:6]
    ]
    assert datetime.fromisoformat(last["time"]) == at_ms(KLINES[-1][0])
    [sent] = offline_exchanges.sent("GET", "/api/v3/klines")
    assert sent.params == {"symbol": "BTCUSDT", "interval": "1m", "limit": "50"}
    assert offline_exchanges.sent_in_transaction == []


def test_binance_candles_are_kept_a_few_seconds_and_charged_to_the_shared_limiter(
    alice_client, on_binance, offline_exchanges, redis_client
):
    candles(alice_client, on_binance, "?limit=20")
    candles(alice_client, on_binance, "?limit=20")
    assert len(offline_exchanges.sent("GET", "/api/v3/klines")) == 1
    key = "candles:binance:BTC/USDT:1m:20"
    assert 0 < redis_client.ttl(key) <= 5
    # The request weight went through the shared Redis limiter of this server's outbound IP.
    assert redis_client.zcard("ratelimit:binance:ip:shared") >= 1
    redis_client.delete(key)  # expired
    candles(alice_client, on_binance, "?limit=20")
    assert len(offline_exchanges.sent("GET", "/api/v3/klines")) == 2


def test_the_default_is_200_one_minute_candles(alice_client, on_binance, offline_exchanges):
    body = candles(alice_client, on_binance)
    assert (body["timeframe"], len(body["candles"])) == ("1m", 200)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("?timeframe=7m", "timeframe", "Must be one of 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 12h, 1d."),
        ("?limit=0", "limit", "Must be a whole number from 1 to 1000."),
        ("?limit=1001", "limit", "Must be a whole number from 1 to 1000."),
        ("?limit=ten", "limit", "Must be a whole number from 1 to 1000."),
    ],
)
def test_bad_timeframes_and_limits_are_400s_naming_the_allowed(alice_client, on_binance, query, field, message):
    r = alice_client.get(f"/api/strategies/{on_binance.pk}/candles{query}")
    assert (r.status_code, r.json()) == (400, {field: [message]})


@pytest.mark.parametrize(
    "answer",
    [Timeout(after=False), Reply(503, {"code": -1001, "msg": "Internal error; unable to process your request."})],
)
def test_an_unreachable_exchange_is_a_503_naming_it(alice_client, on_binance, offline_exchanges, answer):
    offline_exchanges.script("GET", "/api/v3/klines", answer)
    r = alice_client.get(f"/api/strategies/{on_binance.pk}/candles")
    assert r.status_code == 503
    assert r.json()["detail"].startswith("The candles of binance could not be loaded (")


def test_a_paper_account_with_live_prices_shows_its_exchanges_candles(alice_client, alice, offline_exchanges):
    strategy = make_strategy(alice, make_paper_account(alice, price_source="live", price_exchange="binance"))
    body = candles(alice_client, strategy, "?limit=3")
    assert (body["origin"], len(body["candles"])) == ("binance", 3)


def test_someone_elses_strategy_answers_like_a_missing_one(alice_client, bob, offline_exchanges):
    theirs = make_strategy(bob, make_paper_account(bob))
    foreign = alice_client.get(f"/api/strategies/{theirs.pk}/candles")
    missing = alice_client.get(f"/api/strategies/{theirs.pk + 1000}/candles")
    assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json())
    assert missing.status_code == 404
    assert offline_exchanges.sent("GET", "/api/v3/klines") == []


# --- a replay: the candles played so far ------------------------------------------------------------------------

# 2022-05-05 in the shipped BTCUSDT 1-minute data set: its rows at 09:55 … 09:59 (open, high, low, close, volume).
ROWS = {
    "09:55": ("39486.3", "39498.8", "39482.8", "39482.9", "98.105"),
    "09:56": ("39482.9", "39493.9", "39475.7", "39493.9", "55.971"),
    "09:57": ("39494.1", "39494.2", "39483", "39486", "68.064"),
    "09:58": ("39486", "39494.3", "39486", "39488", "47.747"),
    "09:59": ("39488", "39491", "39486.4", "39487.2", "39.235"),
}
# Its 10:00 candle (39487.2, 39498.2, 39480, 39494.5, 114.096) rose, so its path runs open → low (at 20 s) → high
# (at 40 s) → close: at 10:00:30 it has fallen to its low and not reached its high; half its volume is traded.
HALF_PLAYED = ("39487.2", "39487.2", "39480", "39480", "57.048")


@pytest.fixture
def replay(alice, monkeypatch):
    """A paper account replaying the data set at 60 times real time, started 10 min 0.5 s ago: the replay is
    at 10:00:30 of the data, half-way through its 10:00 candle."""
    account = make_paper_account(
        alice, price_source="replay", replay_dataset="BTCUSDT-1m-2022-05-05", replay_speed=D(60)
    )
    strategy = make_strategy(alice, account)
    started = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)
    prices = account.paper_prices()
    assert prices is not None
    spec = prices.feed_spec("BTC/USDT", started)
    DbPaperStore(book_key(account.pk), account.paper_balances).ensure_feed_spec("BTC/USDT", spec)
    now = started + timedelta(minutes=10, milliseconds=500)
    monkeypatch.setattr(detail, "now", lambda: now)
    return strategy, started


def rows_of(body: dict) -> list[tuple[str, ...]]:
    return [tuple(c[k] for k in ("open", "high", "low", "close", "volume")) for c in body["candles"]]


def test_a_replay_shows_the_candles_played_so_far(alice_client, replay):
    strategy, started = replay
    body = candles(alice_client, strategy, "?limit=3")
    assert (body["origin"], body["timeframe"]) == ("data set BTCUSDT-1m-2022-05-05", "1m")
    assert rows_of(body) == [ROWS["09:58"], ROWS["09:59"], HALF_PLAYED]
    last = body["candles"][-1]
    assert datetime.fromisoformat(last["market_time"]) == datetime(2022, 5, 5, 10, 0, tzinfo=UTC)
    # Played 600 data minutes after the start, at 60 times real time: 10 minutes later on the wall clock.
    assert datetime.fromisoformat(last["time"]) == started + timedelta(minutes=10)


def test_a_replay_groups_its_candles_into_longer_timeframes(alice_client, replay):
    strategy, started = replay
    body = candles(alice_client, strategy, "?timeframe=5m&limit=2")
    five = body["candles"][0]
    assert datetime.fromisoformat(five["market_time"]) == datetime(2022, 5, 5, 9, 55, tzinfo=UTC)
    assert datetime.fromisoformat(five["time"]) == started + timedelta(seconds=595)
    # 09:55's open, the highest high and lowest low of the five, 09:59's close, their volumes added up.
    assert rows_of(body) == [("39486.3", "39498.8", "39475.7", "39487.2", "309.122"), HALF_PLAYED]


def test_a_replay_not_yet_started_shows_its_first_open(alice_client, alice):
    account = make_paper_account(alice, price_source="replay", replay_dataset="BTCUSDT-1m-2022-05-05")
    body = candles(alice_client, make_strategy(alice, account))
    assert rows_of(body) == [("39684.1", "39684.1", "39684.1", "39684.1", "0")]


def test_a_replay_of_hourly_candles_refuses_shorter_timeframes(alice_client, alice):
    account = make_paper_account(alice, price_source="replay", replay_dataset="ETHUSDT-1h-2021-01")
    strategy = make_strategy(alice, account, symbol="ETH/USDT")
    r = alice_client.get(f"/api/strategies/{strategy.pk}/candles?timeframe=15m")
    assert (r.status_code, r.json()) == (
        400,
        {"timeframe": ["The data set ETHUSDT-1h-2021-01 has 1h candles: use one of 1h, 2h, 4h, 6h, 12h, 1d."]},
    )
    assert candles(alice_client, strategy)["timeframe"] == "1h"
