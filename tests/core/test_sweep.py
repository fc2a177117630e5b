"""Parameter sweeps, the pure part (trading.sweep): the grid's combinations, the refusals, the ranking, a chunk."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import pytest

from exchanges.markets import market_rules
from exchanges.paper.series import load_series
from tests.core.harness import make_config
from trading.backtest import BacktestOptions, prepare_series, run_backtest
from trading.sweep import (
    Combination,
    Figures,
    SweepGrid,
    SweepGridError,
    SweepOrder,
    SweepRow,
    chunks,
    expand,
    rank,
    run_chunk,
)

ROOT = Path(__file__).resolve().parents[2]
DAY = ROOT / "exchanges/data/replay/BTCUSDT-1m-2022-05-05.csv"
BTC = market_rules("BTC/USDT")
BASE = make_config(grid_levels=3, buy_offset_pct=D(1), sell_offset_pct=D(1), order_size_quote=D(100))


def grid(**values: object) -> SweepGrid:
    found: dict[str, object] = {"grid_levels": (2, 4), "buy_offset_pct": (D("0.3"), D("0.5"))}
    found["sell_offset_pct"] = (D("0.4"),)
    found.update(values)
    return SweepGrid(**found)  # type: ignore[arg-type]


def test_the_grid_expands_into_every_combination_in_grid_order():
    combos = expand(grid(stop_loss_pct=(None, D(2))), BASE, 100)
    assert [(c.grid_levels, c.buy_offset_pct, c.sell_offset_pct, c.stop_loss_pct) for c in combos] == [
        (2, D("0.3"), D("0.4"), None),
        (2, D("0.3"), D("0.4"), D(2)),
        (2, D("0.5"), D("0.4"), None),
        (2, D("0.5"), D("0.4"), D(2)),
        (4, D("0.3"), D("0.4"), None),
        (4, D("0.3"), D("0.4"), D(2)),
        (4, D("0.5"), D("0.4"), None),
        (4, D("0.5"), D("0.4"), D(2)),
    ]
    assert [c.index for c in combos] == list(range(8))
    config = combos[3].config(BASE)
    assert (config.grid_levels, config.buy_offset_pct, config.stop_loss_pct) == (2, D("0.5"), D(2))
    assert config.order_size_quote == BASE.order_size_quote


def test_without_a_stop_loss_list_every_combination_keeps_the_base_stop_loss():
    combos = expand(grid(), replace(BASE, stop_loss_pct=D(3)), 100)
    assert len(combos) == 4
    assert {c.stop_loss_pct for c in combos} == {D(3)}


def test_combinations_the_engine_refuses_are_named_with_the_reason():
    with pytest.raises(SweepGridError) as caught:
        expand(grid(grid_levels=(5, 10, 20), buy_offset_pct=(D(5), D(10))), BASE, 100)
    message = caught.value.errors["grid"]
    assert "refuses 3 of the 6 combinations" in message
    assert "grid_levels=10 × buy_offset_pct=10 × sell_offset_pct=0.4" in message
    assert "grid_levels=20 × buy_offset_pct=5 " in message
    assert "grid_levels=20 × buy_offset_pct=10 " in message
    assert "grid_levels=5 ×" not in message
    assert "buy_offset_pct × grid_levels < 100" in message


def test_a_grid_over_the_limit_or_with_bad_lists_is_refused_naming_the_field():
    with pytest.raises(SweepGridError) as caught:
        expand(grid(grid_levels=(1, 2, 3), buy_offset_pct=(D(1), D(2))), BASE, 5)
    assert caught.value.errors == {"grid": "6 combinations; at most 5 (SWEEP_MAX_COMBINATIONS) in one sweep."}
    with pytest.raises(SweepGridError) as caught:
        expand(
            grid(grid_levels=(), sell_offset_pct=(D(1), D(1)), stop_loss_pct=tuple(D(i) for i in range(1, 52))),
            BASE,
            10**6,
        )
    assert caught.value.errors == {
        "grid_levels": "Give 1 to 50 values (0 given).",
        "sell_offset_pct": "Each value once.",
        "stop_loss_pct": "Give 1 to 50 values (51 given).",
    }


def test_chunks_cover_every_combination_once_in_order():
    combos = expand(grid(grid_levels=(1, 2, 3), buy_offset_pct=(D(1), D(2), D(3))), BASE, 100)
    parts = chunks(combos, 4)
    assert [len(p) for p in parts] == [4, 4, 1]
    assert [c for p in parts for c in p] == combos


def figures(total: str, drawdown: str) -> Figures:
    ratio = (D(total) / D(drawdown)).quantize(D("0.0001")) if D(drawdown) else None
    return Figures(D(total), D(total), D(0), D(drawdown), D(0), ratio, 0, 0, D(0))


def row(index: int, total: str, drawdown: str) -> SweepRow:
    return SweepRow(Combination(index, 1, D(1), D(1), None), figures(total, drawdown))


def test_the_ranking_breaks_ties_by_pnl_then_drawdown_then_grid_order_whatever_the_order_results_came_in():
    rows = [
        row(0, "10", "5"),  # ratio 2
        row(1, "10", "5"),  # the same figures: grid order decides
        row(2, "20", "10"),  # ratio 2 too, more PnL
        row(3, "10", "2"),  # ratio 5
        row(4, "3", "0"),  # never fell: no ratio
        row(5, "-4", "2"),  # ratio -2
        row(6, "10", "0"),  # no ratio, more PnL than 4
    ]
    for arrangement in (rows, rows[::-1], rows[3:] + rows[:3]):
        by_pnl = [r.combination.index for r in rank(arrangement, SweepOrder.TOTAL_PNL)]
        assert by_pnl == [2, 6, 3, 0, 1, 4, 5]
        by_drawdown = [r.combination.index for r in rank(arrangement, "max_drawdown")]
        assert by_drawdown == [6, 4, 3, 5, 0, 1, 2]
        by_ratio = [r.combination.index for r in rank(arrangement, "pnl_per_drawdown")]
        assert by_ratio == [3, 2, 0, 1, 5, 6, 4]


def test_figures_survive_their_json_form_exactly():
    f = Figures(D("12.34500"), D("-0.000000013"), D("12.345000013"), D("7"), D("0.07"), D("1.7636"), 3, 1, D("0.2"))
    assert Figures.from_json(f.as_json()) == f
    assert f.as_json()["total_pnl"] == "12.345"
    g = grid(stop_loss_pct=(None, D("2.50")))
    assert SweepGrid.from_json(g.as_json()) == g


def test_a_chunk_over_one_prepared_series_gives_each_combination_s_run_alone():
    series = load_series([DAY])
    combos = expand(
        grid(grid_levels=(3, 6), buy_offset_pct=(D("0.2"), D("0.4")), stop_loss_pct=(None, D("1"))), BASE, 100
    )
    heard: list[SweepRow] = []
    options = BacktestOptions(initial_quote=D(2000))
    rows = run_chunk(prepare_series(series), BASE, BTC, options, combos, heard.append)
    assert heard == rows
    assert [r.combination for r in rows] == combos
    alone = [Figures.of(run_backtest(load_series([DAY]), c.config(BASE), BTC, options)) for c in combos]
    assert [r.figures for r in rows] == alone
    assert len({(f.total_pnl, f.fills) for f in alone}) > 4  # the parameters matter on this day
    assert any(f.pnl_per_drawdown is not None for f in alone)
    first = alone[0]
    assert first.total_pnl == first.realized_pnl + first.unrealized_pnl
    assert first.pnl_per_drawdown == (first.total_pnl / first.max_drawdown).quantize(D("0.0001"))


def test_a_prepared_series_gives_every_run_exactly_what_it_gets_alone():
    series = load_series([DAY])
    prepared = prepare_series(series)
    for levels in (3, 8, 3):  # the second 3 runs on paths the earlier runs left in the prepared series
        cfg = replace(BASE, grid_levels=levels, buy_offset_pct=D("0.2"), sell_offset_pct=D("0.3"))
        shared = run_backtest(prepared, cfg, BTC)
        alone = run_backtest(load_series([DAY]), cfg, BTC)
        assert shared == alone
        assert shared.fills


def test_a_progress_exception_stops_the_chunk():
    class Cancelled(Exception):
        pass

    def progress(done: int, total: int) -> None:
        raise Cancelled

    heard: list[SweepRow] = []
    combos = expand(grid(), BASE, 100)
    with pytest.raises(Cancelled):
        run_chunk(
            prepare_series(load_series([DAY])),
            BASE,
            BTC,
            BacktestOptions(progress=progress, progress_every=100),
            combos,
            heard.append,
        )
    assert heard == []
