"""manage.py backtest: replay historical candles through the live engine (trading.backtest) from the command line.

    manage.py backtest --data BTCUSDT-1m-2024-01.csv BTCUSDT-1m-2024-02.csv --symbol BTC/USDT --grid-levels 10 …
    manage.py backtest --download binance BTC/USDT 1m 2024-01-01 2024-03-01 --strategy 3 --json out.json

Candles come from files (Binance dumps, header CSV, JSON; several in time order) or are downloaded through the
CCXT adapter into the cache (BACKTEST_CACHE_DIR). The market's rules are the shipped Binance ones for --data, the
exchange's own for --download. Parameters are a strategy's (--strategy ID, read as the runtime reads it) with the
flags given on top, or the flags over a new strategy's defaults; they are checked by the strategy's own rules.

Progress goes to stderr (a redrawn bar on a terminal, a line every few seconds otherwise), the summary to stdout,
and --json / --csv write the details, each file whole or not at all. Ctrl-C stops the run and writes no file.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchanges.base import ExchangeError, MarketRules, plain_number
from exchanges.markets import market_rules, rules_as_dict
from exchanges.paper.series import CandleDataError, CandleSeries, load_series
from trading.backtest import BacktestOptions, BacktestResult, Mode, run_backtest
from trading.backtests.report import ProgressLine, result_document, summary_table, write_fills_csv, write_json
from trading.core.types import EngineConfig
from trading.runtime.spec import parameter_rules, strategy_source

# flag → (EngineConfig field, type of its value)
PARAMETER_FLAGS: dict[str, tuple[str, type]] = {
    "--grid-levels": ("grid_levels", int),
    "--buy-offset": ("buy_offset_pct", Decimal),
    "--sell-offset": ("sell_offset_pct", Decimal),
    "--order-size": ("order_size_quote", Decimal),
    "--reprice": ("reprice_threshold_pct", Decimal),
    "--max-positions": ("max_positions", int),
    "--stop-loss": ("stop_loss_pct", Decimal),
    "--time-stop-hours": ("time_stop_hours", Decimal),
    "--daily-loss-limit": ("daily_loss_limit", Decimal),
    "--max-losses": ("max_consecutive_losses", int),
    "--cooldown": ("cooldown_minutes", int),
}
_OPTIONAL = {"stop_loss_pct", "time_stop_hours", "daily_loss_limit", "max_consecutive_losses"}
_FLAG_OF = {name: flag for flag, (name, _) in PARAMETER_FLAGS.items()}
_OFF = ("off", "none")
PROGRESS_EVERY = 5_000  # candles between progress reports: cheap, and a bar that moves smoothly


class Command(BaseCommand):
    help = "Backtest grid parameters on historical candles, with the engine that trades live."

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--data", nargs="+", type=Path, metavar="FILE", help="Candle files, in time order.")
        source.add_argument(
            "--download",
            nargs="+",
            metavar="ARG",
            help="EXCHANGE SYMBOL TIMEFRAME SINCE [UNTIL]: candles from the exchange (cached), e.g. binance BTC/USDT "
            "1m 2024-01-01 2024-02-01; times ISO 8601, UTC unless they say otherwise; UNTIL defaults to now.",
        )
        parser.add_argument("--symbol", help="The market, BASE/QUOTE (default: the strategy's or --download's).")
        parser.add_argument("--strategy", type=int, metavar="ID", help="Take the parameters of this strategy.")
        for flag, (name, kind) in PARAMETER_FLAGS.items():
            off = " ('off' switches the rule off)" if name in _OPTIONAL else ""
            parser.add_argument(flag, dest=name, metavar="N" if kind is int else "X", help=f"{name}{off}")
        parser.add_argument("--initial-quote", default="10000", metavar="X", help="Starting quote balance.")
        parser.add_argument("--initial-base", default="0", metavar="X", help="Starting base balance.")
        parser.add_argument("--slippage", default="0.05", metavar="PCT", help="Market orders fill this %% worse.")
        parser.add_argument("--fee-in-base", action="store_true", help="A buy's fee comes off the base received.")
        parser.add_argument("--mode", choices=["fast", "every-point"], default="fast")
        parser.add_argument("--tz", help="Time zone of the daily loss limit's day (default: TIME_ZONE).")
        parser.add_argument("--json", type=Path, metavar="FILE", help="Write summary, gaps, equity curve, fills.")
        parser.add_argument("--csv", type=Path, metavar="FILE", help="Write every fill, one row each.")

    def handle(self, *args: Any, **options: Any) -> None:
        download = _download_args(options["download"]) if options["download"] else None
        symbol = _symbol(options, download)
        config = self._config(options, symbol)
        backtest_options = _backtest_options(options)
        for flag in ("json", "csv"):
            path = options[flag]
            if path is not None and not path.parent.is_dir():
                raise CommandError(f"--{flag} {path}: the folder {path.parent} does not exist")
        progress = self._progress("backtest")
        try:
            if download is None:
                series = _load(options["data"])
                market = _shipped_rules(config.symbol)
                data: dict[str, Any] = {"files": [str(p) for p in options["data"]]}
            else:
                series, market = self._download(download, config.symbol)
                data = {"download": {**download, "since": download["since"].isoformat()}}
                data["download"]["until"] = download["until"].isoformat() if download["until"] else None
            result = run_backtest(series, config, market, replace(backtest_options, progress=progress))
            progress.close()
            self._report(result)
            self._write(result, options, config, backtest_options, {**data, "market": rules_as_dict(market)})
        except KeyboardInterrupt:
            progress.close()
            # Each file is written whole or not at all (a temporary file renamed): an interrupted one is not there.
            raise CommandError("Interrupted: no result, no file written.", returncode=130) from None
        except (ValueError, RuntimeError) as exc:
            progress.close()
            raise CommandError(str(exc)) from None

    def _report(self, result: BacktestResult) -> None:
        self.stdout.write(summary_table(result), ending="")
        for gap in result.gaps[:5]:
            length = timedelta(seconds=int(gap.length.total_seconds()))
            self.stdout.write(f"gap: {gap.start:%Y-%m-%d %H:%M:%S} → {gap.end:%Y-%m-%d %H:%M:%S} UTC ({length})")
        if len(result.gaps) > 5:
            self.stdout.write(f"… and {len(result.gaps) - 5} more gaps (all of them in --json)")

    # --- parameters ---------------------------------------------------------------------------------------------------
    def _config(self, options: dict[str, Any], symbol: str) -> EngineConfig:
        source = strategy_source()
        strategy_id = options["strategy"]
        if strategy_id is not None:
            stored = source.settings(strategy_id)
            if stored is None:
                raise CommandError(f"--strategy {strategy_id}: no such strategy")
            parameters = {k: v for k, v in asdict(stored.config).items() if k not in ("strategy_id", "symbol")}
            where = f"strategy {strategy_id}'s"
        else:
            parameters = parameter_rules().parameter_defaults()
            where = "default"
        given: set[str] = set()
        for flag, (name, kind) in PARAMETER_FLAGS.items():
            raw = options[name]
            if raw is not None:
                parameters[name] = _parameter(flag, name, kind, raw)
                given.add(name)
        errors = parameter_rules().parameter_errors(symbol, parameters)
        if errors:
            lines = []
            for name, message in sorted(errors.items()):
                flag = "--symbol" if name == "symbol" else _FLAG_OF.get(name, name)
                if name not in given and name in parameters:
                    flag = f"{flag} ({where} {_text(parameters[name])})"
                lines.append(f"{flag}: {message}")
            raise CommandError("\n".join(lines))
        return EngineConfig(strategy_id=strategy_id or 0, symbol=symbol, **parameters)

    # --- data ---------------------------------------------------------------------------------------------------------
    def _download(self, args: dict[str, Any], symbol: str) -> tuple[CandleSeries, MarketRules]:
        # Imported here: CCXT costs ~0.4 s to import, and --data never needs it.
        from trading.runtime.history import download_candles, exchange_market_rules

        progress = self._progress("download")
        try:
            market = exchange_market_rules(args["exchange"], symbol)
            series = download_candles(
                args["exchange"], symbol, args["timeframe"], args["since"], args["until"], progress=progress
            )
        except ExchangeError as exc:
            raise CommandError(f"--download: {args['exchange']} did not answer: {exc}") from None
        except ValueError as exc:
            raise CommandError(f"--download: {exc}") from None
        finally:
            progress.close()
        return series, market

    # --- output -------------------------------------------------------------------------------------------------------
    def _progress(self, label: str) -> ProgressLine:
        stream = self.stderr

        def write(text: str) -> None:
            stream.write(text, style_func=str, ending="")  # plain: a progress bar is no error

        return ProgressLine(write, stream.flush, label, tty=stream.isatty())

    def _write(
        self,
        result: BacktestResult,
        options: dict[str, Any],
        config: EngineConfig,
        backtest_options: BacktestOptions,
        data: dict[str, Any],
    ) -> None:
        if options["json"] is not None:
            document = result_document(
                result,
                parameters={k: _text(v) for k, v in asdict(config).items()},
                options={
                    "initial_quote": plain_number(backtest_options.initial_quote),
                    "initial_base": plain_number(backtest_options.initial_base),
                    "slippage_pct": plain_number(backtest_options.slippage_pct),
                    "fee_in_base": backtest_options.buy_fee_in_base,
                    "mode": backtest_options.mode.value,
                    "tz": str(backtest_options.tz),
                },
                data=data,
            )
            write_json(options["json"], document)
            self.stdout.write(f"JSON: {options['json']}")
        if options["csv"] is not None:
            write_fills_csv(options["csv"], result)
            self.stdout.write(f"CSV: {options['csv']} ({len(result.fills)} fills)")


def _parameter(flag: str, name: str, kind: type, raw: str) -> Any:
    text = raw.strip()
    if name in _OPTIONAL and text.lower() in _OFF:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or (kind is int and value != value.to_integral_value()):
        what = "a whole number" if kind is int else "a number"
        off = ", or 'off'" if name in _OPTIONAL else ""
        raise CommandError(f"{flag}: {raw!r} is not {what}{off}")
    return int(value) if kind is int else value


def _download_args(values: list[str]) -> dict[str, Any]:
    if len(values) not in (4, 5):
        raise CommandError(f"--download takes EXCHANGE SYMBOL TIMEFRAME SINCE [UNTIL], got {len(values)} values")
    exchange, symbol, timeframe, since = values[:4]
    return {
        "exchange": exchange.lower(),
        "symbol": symbol.upper(),
        "timeframe": timeframe,
        "since": _time("SINCE", since),
        "until": _time("UNTIL", values[4]) if len(values) == 5 else None,
    }


def _time(label: str, raw: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise CommandError(f"--download {label} {raw!r}: not a date or time (ISO 8601, e.g. 2024-01-31)") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _symbol(options: dict[str, Any], download: dict[str, Any] | None) -> str:
    given = options["symbol"].strip().upper() if options["symbol"] else None
    if download is not None:
        if given is not None and given != download["symbol"]:
            raise CommandError(f"--symbol {given} differs from the symbol of --download ({download['symbol']})")
        return str(download["symbol"])
    if given is not None:
        return given
    if options["strategy"] is not None:
        stored = strategy_source().settings(options["strategy"])
        if stored is not None:
            return stored.config.symbol
        raise CommandError(f"--strategy {options['strategy']}: no such strategy")
    raise CommandError("--symbol is required with --data (or --strategy, whose market is taken)")


def _backtest_options(options: dict[str, Any]) -> BacktestOptions:
    def amount(flag: str, raw: str, high: Decimal | None = None) -> Decimal:
        try:
            value = Decimal(raw)
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite() or value < 0 or (high is not None and value > high):
            bound = f"between 0 and {high}" if high is not None else "0 or more"
            raise CommandError(f"{flag}: {raw!r} must be a number {bound}")
        return value

    quote = amount("--initial-quote", options["initial_quote"])
    base = amount("--initial-base", options["initial_base"])
    if not quote and not base:
        raise CommandError("--initial-quote and --initial-base: at least one must be above 0")
    tz: tzinfo
    name = options["tz"] or settings.TIME_ZONE
    try:
        tz = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CommandError(f"--tz {name!r}: not an IANA time zone (e.g. UTC, Asia/Shanghai)") from None
    return BacktestOptions(
        initial_quote=quote,
        initial_base=base,
        slippage_pct=amount("--slippage", options["slippage"], Decimal(100)),
        buy_fee_in_base=options["fee_in_base"],
        mode=Mode.FAST if options["mode"] == "fast" else Mode.EVERY_POINT,
        tz=tz,
        progress_every=PROGRESS_EVERY,
    )


def _load(paths: list[Path]) -> CandleSeries:
    for path in paths:
        if not path.is_file():
            raise CommandError(f"--data {path}: no such file")
    try:
        return load_series(paths)
    except CandleDataError as exc:
        raise CommandError(f"--data: {exc}") from None
    except UnicodeDecodeError as exc:
        raise CommandError(f"--data: a file is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _shipped_rules(symbol: str) -> MarketRules:
    try:
        return market_rules(symbol)
    except KeyError as exc:
        raise CommandError(f"--symbol {symbol}: {exc.args[0]}") from None


def _text(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain_number(value)
    return value
