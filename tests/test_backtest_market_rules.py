"""A data set downloaded from an exchange keeps that exchange's rules for its symbol, and its backtests and sweeps
trade by them: a symbol the shipped Binance rules lack is accepted, prices round to its tick, amounts to its step,
and a level under its minimum notional is skipped. Uploads and samples keep the shipped rules."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import given
from hypothesis import strategies as st

from exchanges.base import MarketRules, PriceBand
from exchanges.markets import binance_spot_markets, rules_as_dict, rules_from_dict
from tests.ccxt.fake_binance import FakeBinance, klines_from_dump
from trading.backtest import run_backtest
from trading.backtests import datasets as ds
from trading.backtests import downloads, results, runs
from trading.backtests.models import Backtest, BacktestDataset
from trading.backtests.params import backtest_options, engine_config, market
from trading.core.grid import GridStrategy
from trading.runtime.history import exchange_market_rules
from trading.sweeps import runs as sweep_runs
from trading.sweeps.models import Sweep

DAY = Path(__file__).resolve().parent / "fixtures" / "BTCUSDT-1m-2022-05-05.csv"
# BTC/EUR, which the shipped rules lack, listed by the fake with a whole-euro tick, a 0.001 BTC step and a minimum
# notional that the third level of GRID below the day's first price misses: a 100 EUR buy there is 0.002 BTC, which
# after the worst-case 0.1% fee in BTC leaves 0.001 BTC to sell at its take-profit, ~39,284 × 0.001 < 39.4.
CHANGES: dict[str, dict[str, Any]] = {
    "PRICE_FILTER": {"tickSize": "1.00000000", "minPrice": "1.00000000"},
    "LOT_SIZE": {"stepSize": "0.00100000", "minQty": "0.00100000"},
    "MIN_NOTIONAL": {"minNotional": "39.40000000"},
}
EXPECTED = MarketRules(
    symbol="BTC/EUR",
    base="BTC",
    quote="EUR",
    tick_size=D(1),
    step_size=D("0.001"),
    min_amount=D("0.001"),
    min_notional=D("39.4"),
    min_price=D(1),
    max_price=D(1_000_000),
    max_amount=D(9000),
    market_max_amount=D("100.05381873"),
    buy_band=PriceBand(D("0.2"), D(5), 5),
    sell_band=PriceBand(D("0.2"), D(5), 5),
    max_open_orders=200,
)
GRID = {
    "grid_levels": 3,
    "buy_offset_pct": "0.5",
    "sell_offset_pct": "0.5",
    "order_size_quote": "100",
    "reprice_threshold_pct": "1",
}


# --- the serialisation -----------------------------------------------------------------------------------------------
def exact(rules: MarketRules) -> list[str]:
    """Every field as text: Decimal's == ignores the exponent (0.010 == 0.01), this does not."""
    return [repr(getattr(rules, f.name)) for f in dataclasses.fields(rules)]


def through_json(rules: MarketRules) -> MarketRules:
    return rules_from_dict(rules.symbol, json.loads(json.dumps(rules_as_dict(rules))))


def test_every_shipped_market_round_trips_exactly():
    for rules in binance_spot_markets().values():
        assert exact(through_json(rules)) == exact(rules)


decimals = st.decimals(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False, places=None)
bands = st.none() | st.builds(
    PriceBand,
    decimals,
    decimals,
    st.integers(0, 60),
    st.sampled_from(["PERCENT_PRICE", "PERCENT_PRICE_BY_SIDE"]),
)


@given(
    st.builds(
        MarketRules,
        symbol=st.just("ABC/XYZ"),
        base=st.just("ABC"),
        quote=st.just("XYZ"),
        tick_size=decimals,
        step_size=decimals,
        min_amount=decimals,
        min_notional=decimals,
        maker_fee=decimals,
        taker_fee=decimals,
        min_price=decimals,
        max_price=decimals,
        max_amount=decimals,
        max_notional=decimals,
        market_min_amount=decimals,
        market_max_amount=decimals,
        buy_band=bands,
        sell_band=bands,
        max_open_orders=st.integers(0, 10_000),
        max_position=decimals,
    )
)
def test_any_rules_round_trip_exactly_through_json(rules: MarketRules) -> None:
    assert exact(through_json(rules)) == exact(rules)


# --- downloads, backtests and sweeps ---------------------------------------------------------------------------------
pytestmark_db = pytest.mark.django_db(transaction=True)


@pytest.fixture
def btc_eur(settings, tmp_path, redis_client, offline_exchanges: FakeBinance) -> FakeBinance:
    settings.BACKTEST_CACHE_DIR = tmp_path / "cache"
    ds.forget_cached()
    offline_exchanges.list_market("BTCEUR", "BTC", "EUR", CHANGES)
    offline_exchanges.klines[("BTCEUR", "1m")] = offline_exchanges.klines[("BTCUSDT", "1m")] = klines_from_dump(DAY)
    return offline_exchanges


def download(client: Any, symbol: str = "BTC/EUR") -> int:
    r = client.post(
        "/api/backtests/datasets/download",
        {
            "exchange": "binance",
            "symbol": symbol,
            "timeframe": "1m",
            "since": "2022-05-05T00:00:00Z",
            "until": "2022-05-06T00:00:00Z",
        },
        format="json",
    )
    assert r.status_code == 202, r.json()
    dataset_id: int = r.json()["id"]
    assert downloads.execute(dataset_id) == "ready"
    return dataset_id


@pytestmark_db
def test_a_download_keeps_the_exchanges_rules_and_a_backtest_on_it_trades_by_them(alice_client, btc_eur):
    assert "BTC/EUR" not in binance_spot_markets()
    dataset_id = download(alice_client)
    stored = BacktestDataset.objects.get(pk=dataset_id).market_rules
    assert stored is not None and stored["tick_size"] == "1" and stored["min_notional"] == "39.4"
    rules = rules_from_dict("BTC/EUR", stored)
    assert rules == EXPECTED == exchange_market_rules("binance", "BTC/EUR")
    assert alice_client.get(f"/api/backtests/datasets/{dataset_id}").json()["market_rules"] == stored

    r = alice_client.post("/api/backtests", {**GRID, "dataset": dataset_id}, format="json")
    assert r.status_code == 202, r.json()
    backtest = Backtest.objects.get(pk=r.json()["id"])
    assert backtest.parameters["symbol"] == "BTC/EUR"
    assert runs.execute(backtest.pk) == "done"

    fills = alice_client.get(f"/api/backtests/{backtest.pk}/fills").json()
    buys = [f for f in fills if f["side"] == "buy"]
    assert [f["price"] for f in buys[:2]] == ["39485", "39287"]  # levels 1 and 2 below the first price, 39684.1
    # Every price on the whole-euro tick, every buy 0.002 BTC (100 EUR / ~39,000 rounded down to the step): with the
    # shipped BTC/USDT rules (tick 0.01, step 0.00001) a buy would be about 0.00253 BTC.
    assert all(D(f["price"]) == D(f["price"]).to_integral_value() for f in fills)
    assert {D(f["amount"]) for f in buys} == {D("0.002")}
    assert all(D(f["price"]) * D(f["amount"]) >= D("39.4") for f in fills)

    # The same run by hand, with the rules written out above: the very fills.
    config = engine_config(backtest.parameters)
    options = backtest_options(backtest.options, tz=ZoneInfo(settings.TIME_ZONE))
    series = ds.load_dataset(dataset_id)
    assert fills == results.fills_view(results.fill_rows(run_backtest(series, config, EXPECTED, options)))
    # The third level's take-profit would sell 0.001 BTC for ~39.28 EUR < 39.4: skipped for the minimum notional.
    # Without the minimum it is placed, and buys, so the minimum changed what the backtest did.
    ladder = GridStrategy(config, market(backtest.parameters, backtest.options, stored)).ladder(D("39684"))
    assert [level.index for level in ladder.levels] == [1, 2]
    assert len(ladder.skipped) == 1 and ladder.skipped[0].startswith("level 3") and "notional" in ladder.skipped[0]
    looser = run_backtest(series, config, dataset_replace(EXPECTED, min_notional=D(0)), options)
    assert len([f for f in looser.fills if f.side == "buy"]) > len(buys)


def dataset_replace(rules: MarketRules, **changes: Any) -> MarketRules:
    return dataclasses.replace(rules, **changes)


@pytestmark_db
def test_a_sweep_on_a_downloaded_data_set_trades_by_its_rules(alice_client, btc_eur):
    dataset_id = download(alice_client)
    r = alice_client.post(
        "/api/sweeps",
        {
            **GRID,
            "dataset": dataset_id,
            "grid": {"grid_levels": [3, 5], "buy_offset_pct": ["0.5"], "sell_offset_pct": ["0.5", "1"]},
        },
        format="json",
    )
    assert r.status_code == 202, r.json()
    sweep = Sweep.objects.get(pk=r.json()["id"])
    for chunk in range(sweep.chunks):
        sweep_runs.execute_chunk(sweep.pk, chunk)
    sweep.refresh_from_db()
    assert sweep.status == "done", sweep.error
    series = ds.load_dataset(dataset_id)
    options = backtest_options(sweep.options, tz=ZoneInfo(settings.TIME_ZONE))
    rows = alice_client.get(f"/api/sweeps/{sweep.pk}").json()["results"]
    assert len(rows) == 4
    for row in rows:
        parameters = {**sweep.parameters, **{k: row[k] for k in ("grid_levels", "buy_offset_pct", "sell_offset_pct")}}
        expected = run_backtest(series, engine_config(parameters), EXPECTED, options).summary()
        assert (row["total_pnl"], row["fills"]) == (expected["total_pnl"], expected["fills"]), row


@pytestmark_db
def test_uploads_and_samples_keep_the_shipped_rules(alice_client, btc_eur):
    upload = alice_client.post(
        "/api/backtests/datasets",
        {"files": [SimpleUploadedFile("day.csv", DAY.read_bytes())], "symbol": "BTC/EUR"},
        "multipart",
    ).json()
    assert BacktestDataset.objects.get(pk=upload["id"]).market_rules is None
    assert upload["market_rules"] is None
    assert alice_client.get("/api/backtests/datasets/sample:BTCUSDT-1m-2022-05-05").json()["market_rules"] is None
    r = alice_client.post("/api/backtests", {**GRID, "dataset": upload["id"]}, format="json")
    assert r.status_code == 400 and "no market rules for BTC/EUR" in r.json()["symbol"][0]
    assert ds.market_rules_of("sample:BTCUSDT-1m-2022-05-05") is None

    # A BTC/USDT download trades by the exchange's BTC/USDT rules, here the shipped ones' equal.
    dataset_id = download(alice_client, "BTC/USDT")
    stored = ds.market_rules_of(str(dataset_id))
    assert stored is not None and rules_from_dict("BTC/USDT", stored) == binance_spot_markets()["BTC/USDT"]
