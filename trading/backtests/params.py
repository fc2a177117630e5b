"""A backtest's stored parameters and options → what run_backtest takes (EngineConfig, MarketRules, options).

The parameters are validated once, when the backtest (or sweep) is made (strategies.backtesting.resolve_parameters,
against the strategy rules); here they are only read back. Numbers are stored as decimal strings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from exchanges.base import MarketRules
from exchanges.markets import market_rules, rules_from_dict
from trading.backtest import BacktestOptions, Progress
from trading.core.types import EngineConfig

# EngineConfig's parameters a backtest takes, with their type (None: may be empty). loop_interval is left out: a
# backtest ticks at the points of each candle's path, not on a timer.
INTEGER_PARAMETERS = ("grid_levels", "max_positions", "max_consecutive_losses", "cooldown_minutes")
DECIMAL_PARAMETERS = (
    "buy_offset_pct",
    "sell_offset_pct",
    "order_size_quote",
    "reprice_threshold_pct",
    "stop_loss_pct",
    "time_stop_hours",
    "daily_loss_limit",
)
PARAMETERS = ("symbol", *INTEGER_PARAMETERS, *DECIMAL_PARAMETERS)

# The options of a backtest and their defaults (maker/taker fee: the market's when absent).
DEFAULT_OPTIONS: dict[str, Any] = {
    "initial_quote": "10000",
    "initial_base": "0",
    "slippage_pct": "0.05",
    "fee_in_base": False,
    "maker_fee_pct": None,
    "taker_fee_pct": None,
}


def engine_config(parameters: Mapping[str, Any], strategy_id: int = 0) -> EngineConfig:
    """The EngineConfig of stored parameters (ValueError when they break its own rules)."""
    values: dict[str, Any] = {"symbol": str(parameters["symbol"])}
    for name in INTEGER_PARAMETERS:
        if parameters.get(name) is not None:
            values[name] = int(parameters[name])
    for name in DECIMAL_PARAMETERS:
        if parameters.get(name) is not None:
            values[name] = Decimal(str(parameters[name]))
    return EngineConfig(strategy_id=strategy_id, **values)


def market(
    parameters: Mapping[str, Any], options: Mapping[str, Any], stored: Mapping[str, Any] | None = None
) -> MarketRules:
    """The symbol's rules, with the fees the options name instead of its own: `stored` (a downloaded data set's
    exchange rules, exchanges.markets.rules_as_dict) when given, else the paper exchange's shipped ones."""
    symbol = str(parameters["symbol"])
    rules = rules_from_dict(symbol, stored) if stored else market_rules(symbol)
    maker, taker = options.get("maker_fee_pct"), options.get("taker_fee_pct")
    return dataclasses.replace(
        rules,
        maker_fee=rules.maker_fee if maker is None else Decimal(str(maker)) / 100,
        taker_fee=rules.taker_fee if taker is None else Decimal(str(taker)) / 100,
    )


def backtest_options(
    options: Mapping[str, Any], *, progress: Progress | None = None, progress_every: int = 50_000, tz: Any = None
) -> BacktestOptions:
    merged = {**DEFAULT_OPTIONS, **options}
    extra: dict[str, Any] = {"tz": tz} if tz is not None else {}
    return BacktestOptions(
        initial_quote=Decimal(str(merged["initial_quote"])),
        initial_base=Decimal(str(merged["initial_base"])),
        slippage_pct=Decimal(str(merged["slippage_pct"])),
        buy_fee_in_base=bool(merged["fee_in_base"]),
        progress=progress,
        progress_every=progress_every,
        **extra,
    )
