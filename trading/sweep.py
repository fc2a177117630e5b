"""Parameter sweeps: one strategy's backtest over a grid of values of a few parameters, ranked. Pure: no Django.

    combos = expand(SweepGrid(grid_levels=(5, 10), buy_offset_pct=(D("0.5"), D(1)), sell_offset_pct=(D(1),)), base)
    prepared = prepare_series(load_series(files))        # loaded and prepared once for all the runs
    rows = run_chunk(prepared, base, market, options, combos)
    ranked = rank(rows, "total_pnl")

A combination is the base EngineConfig with grid_levels, buy_offset_pct, sell_offset_pct and (optionally)
stop_loss_pct replaced; each is one run_backtest, so a sweep's figures are exactly those of running each
combination alone. The web app splits the combinations into chunks (`chunks`) that RQ workers on any node run
(trading.sweeps).

Ranking (`rank`): by total PnL (highest first), by max drawdown (smallest first) or by PnL per unit of drawdown
(highest first; a combination whose equity never fell has none and comes after those that have one). Ties go to
the higher total PnL, then the smaller drawdown, then the combination's place in the grid, so a ranking never
depends on the order results came in.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from exchanges.base import MarketRules
from trading.backtest import BacktestOptions, BacktestResult, PreparedSeries, run_backtest
from trading.core.types import EngineConfig

GRID_FIELDS = ("grid_levels", "buy_offset_pct", "sell_offset_pct", "stop_loss_pct")
MAX_VALUES = 50  # values per parameter
_NAMED_REJECTS = 10  # combinations named in a refusal; the rest are counted
_RATIO = Decimal("0.0001")


class SweepOrder(StrEnum):
    TOTAL_PNL = "total_pnl"
    MAX_DRAWDOWN = "max_drawdown"
    PNL_PER_DRAWDOWN = "pnl_per_drawdown"


class SweepGridError(ValueError):
    """A grid that cannot be swept: {field: message} (the field "grid" for the combinations as a whole)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class SweepGrid:
    """The values to try. stop_loss_pct None (not swept): every combination keeps the base config's stop-loss;
    a None among its values is a combination without one."""

    grid_levels: tuple[int, ...]
    buy_offset_pct: tuple[Decimal, ...]
    sell_offset_pct: tuple[Decimal, ...]
    stop_loss_pct: tuple[Decimal | None, ...] | None = None

    def as_json(self) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {
            "grid_levels": list(self.grid_levels),
            "buy_offset_pct": [_text(v) for v in self.buy_offset_pct],
            "sell_offset_pct": [_text(v) for v in self.sell_offset_pct],
        }
        if self.stop_loss_pct is not None:
            found["stop_loss_pct"] = [None if v is None else _text(v) for v in self.stop_loss_pct]
        return found

    @classmethod
    def from_json(cls, data: dict[str, list[Any]]) -> SweepGrid:
        stops = data.get("stop_loss_pct")
        return cls(
            grid_levels=tuple(int(v) for v in data["grid_levels"]),
            buy_offset_pct=tuple(Decimal(v) for v in data["buy_offset_pct"]),
            sell_offset_pct=tuple(Decimal(v) for v in data["sell_offset_pct"]),
            stop_loss_pct=None if stops is None else tuple(None if v is None else Decimal(v) for v in stops),
        )


@dataclass(frozen=True, slots=True)
class Combination:
    index: int  # its place in the grid (grid_levels varying slowest, stop_loss_pct fastest)
    grid_levels: int
    buy_offset_pct: Decimal
    sell_offset_pct: Decimal
    stop_loss_pct: Decimal | None

    def config(self, base: EngineConfig) -> EngineConfig:
        return dataclasses.replace(
            base,
            grid_levels=self.grid_levels,
            buy_offset_pct=self.buy_offset_pct,
            sell_offset_pct=self.sell_offset_pct,
            stop_loss_pct=self.stop_loss_pct,
        )

    def label(self) -> str:
        stop = "none" if self.stop_loss_pct is None else _text(self.stop_loss_pct)
        return (
            f"grid_levels={self.grid_levels} × buy_offset_pct={_text(self.buy_offset_pct)} × "
            f"sell_offset_pct={_text(self.sell_offset_pct)} × stop_loss_pct={stop}"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "grid_levels": self.grid_levels,
            "buy_offset_pct": _text(self.buy_offset_pct),
            "sell_offset_pct": _text(self.sell_offset_pct),
            "stop_loss_pct": None if self.stop_loss_pct is None else _text(self.stop_loss_pct),
        }

    @classmethod
    def from_json(cls, index: int, data: dict[str, Any]) -> Combination:
        stop = data["stop_loss_pct"]
        return cls(
            index,
            int(data["grid_levels"]),
            Decimal(data["buy_offset_pct"]),
            Decimal(data["sell_offset_pct"]),
            None if stop is None else Decimal(stop),
        )


@dataclass(frozen=True, slots=True)
class Figures:
    """One combination's result, as BacktestResult.summary() states it, plus PnL per unit of drawdown."""

    total_pnl: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    max_drawdown: Decimal
    max_drawdown_pct: Decimal
    pnl_per_drawdown: Decimal | None  # None when the equity never fell
    fills: int
    grid_cycles: int
    fees_quote: Decimal

    @classmethod
    def of(cls, result: BacktestResult) -> Figures:
        s = result.summary()
        drawdown = Decimal(str(s["max_drawdown"]))
        total = Decimal(str(s["total_pnl"]))
        return cls(
            total_pnl=total,
            realized_pnl=Decimal(str(s["realized_pnl"])),
            unrealized_pnl=Decimal(str(s["unrealized_pnl"])),
            max_drawdown=drawdown,
            max_drawdown_pct=Decimal(str(s["max_drawdown_pct"])),
            pnl_per_drawdown=(total / drawdown).quantize(_RATIO) if drawdown else None,
            fills=int(s["fills"]),
            grid_cycles=int(s["grid_cycles"]),
            fees_quote=Decimal(str(s["fees_quote"])),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "total_pnl": _text(self.total_pnl),
            "realized_pnl": _text(self.realized_pnl),
            "unrealized_pnl": _text(self.unrealized_pnl),
            "max_drawdown": _text(self.max_drawdown),
            "max_drawdown_pct": _text(self.max_drawdown_pct),
            "pnl_per_drawdown": None if self.pnl_per_drawdown is None else _text(self.pnl_per_drawdown),
            "fills": self.fills,
            "grid_cycles": self.grid_cycles,
            "fees_quote": _text(self.fees_quote),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figures:
        ratio = data["pnl_per_drawdown"]
        return cls(
            total_pnl=Decimal(data["total_pnl"]),
            realized_pnl=Decimal(data["realized_pnl"]),
            unrealized_pnl=Decimal(data["unrealized_pnl"]),
            max_drawdown=Decimal(data["max_drawdown"]),
            max_drawdown_pct=Decimal(data["max_drawdown_pct"]),
            pnl_per_drawdown=None if ratio is None else Decimal(ratio),
            fills=int(data["fills"]),
            grid_cycles=int(data["grid_cycles"]),
            fees_quote=Decimal(data["fees_quote"]),
        )


@dataclass(frozen=True, slots=True)
class SweepRow:
    combination: Combination
    figures: Figures


def expand(grid: SweepGrid, base: EngineConfig, max_combinations: int) -> list[Combination]:
    """Every combination of the grid's values, in grid order; SweepGridError naming the field (a list empty, too
    long or with a value twice), too many combinations, or the combinations the engine refuses and why."""
    errors: dict[str, str] = {}
    lists: dict[str, Sequence[Any]] = {
        "grid_levels": grid.grid_levels,
        "buy_offset_pct": grid.buy_offset_pct,
        "sell_offset_pct": grid.sell_offset_pct,
        "stop_loss_pct": grid.stop_loss_pct if grid.stop_loss_pct is not None else (base.stop_loss_pct,),
    }
    for name, values in lists.items():
        if not 1 <= len(values) <= MAX_VALUES:
            errors[name] = f"Give 1 to {MAX_VALUES} values ({len(values)} given)."
        elif len(set(values)) != len(values):
            errors[name] = "Each value once."
    if errors:
        raise SweepGridError(errors)
    count = 1
    for values in lists.values():
        count *= len(values)
    if count > max_combinations:
        raise SweepGridError(
            {"grid": f"{count} combinations; at most {max_combinations} (SWEEP_MAX_COMBINATIONS) in one sweep."}
        )
    combinations = [
        Combination(index, levels, buy, sell, stop)
        for index, (levels, buy, sell, stop) in enumerate(itertools.product(*lists.values()))
    ]
    refused: list[str] = []
    for combination in combinations:
        try:
            combination.config(base)
        except ValueError as exc:
            refused.append(f"{combination.label()} ({exc})")
    if refused:
        more = len(refused) - _NAMED_REJECTS
        named = "; ".join(refused[:_NAMED_REJECTS]) + (f"; and {more} more" if more > 0 else "")
        raise SweepGridError({"grid": f"The engine refuses {len(refused)} of the {count} combinations: {named}."})
    return combinations


def chunks(combinations: Sequence[Combination], size: int) -> list[list[Combination]]:
    """The combinations in consecutive runs of at most `size`."""
    size = max(1, size)
    return [list(combinations[i : i + size]) for i in range(0, len(combinations), size)]


def run_chunk(
    prepared: PreparedSeries,
    base: EngineConfig,
    market: MarketRules,
    options: BacktestOptions,
    combinations: Iterable[Combination],
    on_result: Callable[[SweepRow], None] | None = None,
) -> list[SweepRow]:
    """Backtest each combination over the one prepared series, in order; `on_result` hears of each as it is done.
    An exception from options.progress (a cancel) or from on_result ends the chunk there."""
    rows = []
    for combination in combinations:
        result = run_backtest(prepared, combination.config(base), market, options)
        row = SweepRow(combination, Figures.of(result))
        if on_result is not None:
            on_result(row)
        rows.append(row)
    return rows


def rank(rows: Iterable[SweepRow], order: SweepOrder | str = SweepOrder.TOTAL_PNL) -> list[SweepRow]:
    """The rows best first by `order` (see the module docstring for the ties)."""
    order = SweepOrder(order)

    def key(row: SweepRow) -> tuple[Any, ...]:
        f, index = row.figures, row.combination.index
        if order is SweepOrder.MAX_DRAWDOWN:
            return (f.max_drawdown, -f.total_pnl, index)
        if order is SweepOrder.PNL_PER_DRAWDOWN:
            ratio = f.pnl_per_drawdown
            return (ratio is None, -(ratio or 0), -f.total_pnl, f.max_drawdown, index)
        return (-f.total_pnl, f.max_drawdown, index)

    return sorted(rows, key=key)


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"
