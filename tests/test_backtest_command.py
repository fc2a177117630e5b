"""manage.py backtest: the shipped candle files and the fake Binance through the command, checked against
run_backtest called directly."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from exchanges.markets import market_rules, rules_from_dict
from exchanges.paper.series import load_series
from strategies.runtime_source import engine_config_for
from tests.ccxt.fake_binance import FakeBinance, klines_from_dump
from tests.factories import make_paper_account, make_strategy, make_user
from tests.processes import Console
from trading.backtest import BacktestOptions, BacktestResult, Mode, run_backtest
from trading.core.types import EngineConfig
from trading.runtime.history import exchange_market_rules

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
DAY_FILE = FIXTURES / "BTCUSDT-1m-2022-05-05.csv"
SHIPPED = [
    DAY_FILE,
    FIXTURES / "BTCUSDT-1h-2018-02-07_11-outage.csv",
    FIXTURES / "binance_spot_BTCUSDT_1m_2020-10-31_head.json",
]
FLAGS = ["--grid-levels", "10", "--buy-offset", "0.2", "--sell-offset", "0.3", "--order-size", "100"]
CONFIG = EngineConfig(
    strategy_id=0,
    symbol="BTC/USDT",
    grid_levels=10,
    buy_offset_pct=Decimal("0.2"),
    sell_offset_pct=Decimal("0.3"),
    order_size_quote=Decimal(100),
    reprice_threshold_pct=Decimal(1),  # a new strategy's default
)


def backtest(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("backtest", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def direct(path: Path, config: EngineConfig = CONFIG, **options: Any) -> BacktestResult:
    return run_backtest(load_series([path]), config, market_rules(config.symbol), BacktestOptions(**options))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_data_files_give_the_summary_of_run_backtest(path, tmp_path):
    out, err = backtest("--data", str(path), "--symbol", "BTC/USDT", *FLAGS, "--json", str(tmp_path / "r.json"))

    expected = direct(path).summary()
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["summary"] == expected
    for label, key in (("Total PnL", "total_pnl"), ("Fills", "fills"), ("Max drawdown", "max_drawdown")):
        assert f"{label} " in out and str(expected[key]) in out
    assert f"100.0%  {expected['candles']:,}/{expected['candles']:,} candles" in err


def test_every_point_mode_and_the_options_reach_the_backtest(tmp_path):
    args = ["--data", str(DAY_FILE), "--symbol", "btc/usdt", *FLAGS, "--json", str(tmp_path / "r.json")]
    backtest(*args, "--mode", "every-point", "--initial-quote", "5000", "--slippage", "0.1", "--fee-in-base")

    expected = direct(
        DAY_FILE,
        mode=Mode.EVERY_POINT,
        initial_quote=Decimal(5000),
        slippage_pct=Decimal("0.1"),
        buy_fee_in_base=True,
    ).summary()
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["summary"] == expected
    assert document["options"]["mode"] == "every_point" and document["options"]["fee_in_base"] is True


def test_the_json_and_csv_files_hold_every_fill(tmp_path):
    backtest(
        "--data", str(DAY_FILE), "--symbol", "BTC/USDT", *FLAGS,
        "--json", str(tmp_path / "r.json"), "--csv", str(tmp_path / "fills.csv"),
    )  # fmt: skip

    result = direct(DAY_FILE)
    assert len(result.fills) > 10
    with (tmp_path / "fills.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    document = json.loads((tmp_path / "r.json").read_text())
    for listed in (rows, document["fills"]):
        assert [(r["client_order_id"], Decimal(r["price"]), Decimal(r["amount"])) for r in listed] == [
            (f.client_order_id, f.price, f.amount) for f in result.fills
        ]
        assert [Decimal(r["fee"]) for r in listed] == [f.fee for f in result.fills]
        assert {r["role"] for r in listed} == {"grid_buy", "take_profit"}
        assert sum(Decimal(r["lot_pnl"]) for r in listed if r["lot_pnl"]) == result.realized_pnl
        assert sum(1 for r in listed if r["lot_pnl"]) == len(result.closed_positions)
    assert len(document["equity_curve"]) == len(result.equity_curve)
    assert document["parameters"]["grid_levels"] == 10 and document["parameters"]["buy_offset_pct"] == "0.2"


def test_the_gaps_are_listed_in_the_output_and_the_json(tmp_path):
    path = FIXTURES / "BTCUSDT-1h-2018-02-07_11-outage.csv"
    out, _ = backtest("--data", str(path), "--symbol", "BTC/USDT", *FLAGS, "--json", str(tmp_path / "r.json"))

    gaps = json.loads((tmp_path / "r.json").read_text())["gaps"]
    assert gaps[0]["start"] == "2018-02-08T01:00:00Z"
    assert "gap: 2018-02-08 01:00:00 → 2018-02-09 09:28:14 UTC (1 day, 8:28:14)" in out


@pytest.mark.django_db
def test_a_strategy_gives_its_parameters_and_flags_override_them(tmp_path):
    alice = make_user("alice")
    strategy = make_strategy(
        alice,
        make_paper_account(alice),
        grid_levels=7,
        buy_offset_pct=Decimal("0.3"),
        sell_offset_pct=Decimal("0.5"),
        order_size_quote=Decimal(50),
        stop_loss_pct=Decimal(2),
        max_positions=5,
    )

    backtest("--data", str(DAY_FILE), "--strategy", str(strategy.pk), "--json", str(tmp_path / "a.json"))
    backtest("--data", str(DAY_FILE), "--strategy", str(strategy.pk), "--grid-levels", "3", "--stop-loss", "off",
             "--json", str(tmp_path / "b.json"))  # fmt: skip

    config = engine_config_for(strategy)
    assert json.loads((tmp_path / "a.json").read_text())["summary"] == direct(DAY_FILE, config).summary()
    changed = replace(config, grid_levels=3, stop_loss_pct=None)
    document = json.loads((tmp_path / "b.json").read_text())
    assert document["summary"] == direct(DAY_FILE, changed).summary()
    assert document["parameters"]["max_positions"] == 5 and document["parameters"]["stop_loss_pct"] is None


@pytest.mark.django_db
def test_a_flag_that_breaks_a_rule_with_the_strategys_values_names_both():
    alice = make_user("alice")
    strategy = make_strategy(alice, make_paper_account(alice), grid_levels=7, buy_offset_pct=Decimal(3))

    with pytest.raises(CommandError, match=r"^--buy-offset: With 7 grid levels, must be below 14\.2857 %"):
        backtest("--data", str(DAY_FILE), "--strategy", str(strategy.pk), "--buy-offset", "15")
    needle = rf"^--buy-offset \(strategy {strategy.pk}'s 3\): With 50 grid levels, must be below 2\.0000 %"
    with pytest.raises(CommandError, match=needle):
        backtest("--data", str(DAY_FILE), "--strategy", str(strategy.pk), "--grid-levels", "50")
    with pytest.raises(CommandError, match=r"--strategy 999999: no such strategy"):
        backtest("--data", str(DAY_FILE), "--strategy", "999999")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid-levels", "0"], r"--grid-levels: Must be between 1 and 100 levels\."),
        (["--grid-levels", "2.5"], r"--grid-levels: '2\.5' is not a whole number"),
        (["--buy-offset", "abc"], r"--buy-offset: 'abc' is not a number"),
        (["--sell-offset", "101"], r"--sell-offset: Must be between 0\.01 and 100 %"),
        (["--order-size", "0"], r"--order-size: Must be between 0\.00000001 and 1000000000 in quote currency"),
        (["--reprice", "-1"], r"--reprice: Must be between 0\.01 and 100 %"),
        (["--max-positions", "0"], r"--max-positions: Must be between 1 and 1000 positions"),
        (["--stop-loss", "100"], r"--stop-loss: Must be between 0\.01 and 99\.99 % \(or empty to switch it off\)"),
        (["--stop-loss", "nan"], r"--stop-loss: 'nan' is not a number, or 'off'"),
        (["--time-stop-hours", "9000"], r"--time-stop-hours: Must be between 0\.01 and 8760 hours"),
        (["--daily-loss-limit", "0"], r"--daily-loss-limit: Must be between"),
        (["--max-losses", "3"], r"--cooldown \(default 0\): Must be at least 1 minute"),
        (["--cooldown", "20000"], r"--cooldown: Must be between 0 and 10080 minutes"),
        (["--initial-quote", "-5"], r"--initial-quote: '-5' must be a number 0 or more"),
        (["--initial-quote", "0"], r"--initial-quote and --initial-base: at least one must be above 0"),
        (["--slippage", "200"], r"--slippage: '200' must be a number between 0 and 100"),
        (["--tz", "Mars/Olympus"], r"--tz 'Mars/Olympus': not an IANA time zone"),
        (["--mode", "slow"], r"argument --mode: invalid choice: 'slow'"),
        (["--symbol", "DOGE/EUR"], r"--symbol DOGE/EUR: No market rules for 'DOGE/EUR'"),
        (["--symbol", "BTCUSDT"], r"--symbol: Must be a market symbol BASE/QUOTE"),
        (["--json", "/nonexistent/dir/r.json"], r"--json /nonexistent/dir/r\.json: the folder /nonexistent/dir"),
    ],
)
def test_a_bad_flag_is_a_command_error_naming_it(args, message):
    base = ["--data", str(DAY_FILE), "--symbol", "BTC/USDT", *FLAGS]
    with pytest.raises(CommandError, match=message):
        backtest(*base, *args)


def test_bad_data_is_a_command_error_with_file_line_and_reason(tmp_path):
    broken = tmp_path / "broken.csv"
    lines = DAY_FILE.read_text().splitlines()[:5]
    lines[2] = lines[2].replace("39740.30", "39600.00", 1)  # the high below the close
    broken.write_text("\n".join(lines) + "\n")

    with pytest.raises(CommandError, match=rf"--data: {broken}, line 3: the high is below the open or the close"):
        backtest("--data", str(broken), "--symbol", "BTC/USDT", *FLAGS)
    with pytest.raises(CommandError, match=r"--data .*missing\.csv: no such file"):
        backtest("--data", str(tmp_path / "missing.csv"), "--symbol", "BTC/USDT", *FLAGS)
    with pytest.raises(CommandError, match=r"--symbol is required with --data"):
        backtest("--data", str(DAY_FILE), *FLAGS)
    with pytest.raises(CommandError, match=r"one of the arguments --data --download is required"):
        backtest(*FLAGS)


@pytest.mark.django_db
def test_download_runs_end_to_end_against_the_fake_exchange_and_caches(
    offline_exchanges: FakeBinance, redis_client, settings, tmp_path
):
    settings.BACKTEST_CACHE_DIR = tmp_path / "cache"
    offline_exchanges.klines[("BTCUSDT", "1m")] = klines_from_dump(DAY_FILE)
    args = ["--download", "binance", "BTC/USDT", "1m", "2022-05-05", "2022-05-06T00:00:00Z", *FLAGS]

    out, err = backtest(*args, "--json", str(tmp_path / "r.json"))

    rules = exchange_market_rules("binance", "BTC/USDT")
    expected = run_backtest(load_series([DAY_FILE]), CONFIG, rules, BacktestOptions()).summary()
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["summary"] == expected
    assert document["data"]["download"]["exchange"] == "binance"
    assert (
        rules_from_dict("BTC/USDT", document["data"]["market"]) == rules
    )  # the rules it ran by, as data sets keep them
    assert len(offline_exchanges.sent("GET", "/api/v3/klines")) == 2
    assert "download [" in err and "1,440/1,440 candles" in err
    assert (tmp_path / "cache" / "binance" / "BTC-USDT" / "1m" / "2022-05.csv").exists()
    # Every request went through the shared limiter: RAW_REQUESTS of the IP's budget counts each once.
    assert int(redis_client.get("ratelimit:binance:ip:shared:raw:sum")) == len(offline_exchanges.requests) == 3

    again, _ = backtest(*args)
    assert len(offline_exchanges.sent("GET", "/api/v3/klines")) == 2  # the cache answered
    assert again.splitlines()[:24] == out.splitlines()[:24]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("download", "message"),
    [
        (["kraken2000", "BTC/USDT", "1m", "2022-05-05"], r"--download: exchange 'kraken2000' is not a CCXT"),
        (["binance", "NOPE/USDT", "1m", "2022-05-05"], r"--download: symbol 'NOPE/USDT'"),
        (["binance", "BTC/USDT", "7m", "2022-05-05", "2022-05-06"], r"--download: timeframe '7m'"),
        (["binance", "BTC/USDT", "1m", "yesterday"], r"--download SINCE 'yesterday': not a date or time"),
        (["binance", "BTC/USDT", "1m", "2022-05-06", "2022-05-05"], r"--download: since 2022-05-06.* must be before"),
        (["binance", "BTC/USDT"], r"--download takes EXCHANGE SYMBOL TIMEFRAME SINCE \[UNTIL\], got 2 values"),
    ],
)
def test_a_bad_download_is_a_command_error_naming_it(redis_client, settings, tmp_path, download, message):
    settings.BACKTEST_CACHE_DIR = tmp_path
    with pytest.raises(CommandError, match=message):
        backtest("--download", *download, *FLAGS)


def test_ctrl_c_stops_the_run_cleanly_and_writes_no_file(tmp_path):
    data = tmp_path / "long.csv"
    write_random_walk(data, 300_000)
    out = tmp_path / "r.json"
    argv = [sys.executable, "manage.py", "backtest", "--data", str(data), "--symbol", "BTC/USDT", *FLAGS]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    console = Console([*argv, "--mode", "every-point", "--json", str(out)], env, cwd=ROOT)
    try:
        console.wait_for("backtest [", timeout=60)
        console.proc.send_signal(signal.SIGINT)
        code = console.finish(timeout=30)
    finally:
        if console.proc.poll() is None:
            console.kill()

    assert code == 130, console.text
    assert "CommandError: Interrupted: no result, no file written." in console.text
    assert "Traceback" not in console.text
    assert "Market " not in console.text
    assert list(tmp_path.iterdir()) == [data]


def write_random_walk(path: Path, count: int) -> None:
    """`count` 1-minute candles of a seeded random walk around 30,000, in the Binance dump's columns."""
    rng = np.random.default_rng(7)
    close = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.001, count)))
    open_ = np.concatenate([[30_000.0], close[:-1]])
    spread = np.abs(rng.normal(0, 0.0008, count)) * close
    high, low = np.maximum(open_, close) + spread, np.minimum(open_, close) - spread
    times = 1_640_995_200_000 + 60_000 * np.arange(count)
    columns = zip(times, open_, high, low, close, strict=True)
    lines = (f"{t},{o:.2f},{h:.2f},{lo:.2f},{c:.2f},1" for t, o, h, lo, c in columns)
    path.write_text("\n".join(lines) + "\n")
