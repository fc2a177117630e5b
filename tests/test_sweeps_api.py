"""/api/sweeps (contract: /work/backtest-api.md): queued as chunks, read back ranked with progress, bad input a 400
naming the field and its range, another user's sweeps not found, cancel and delete. The chunks themselves:
tests/test_sweep_runs.py (in this process) and tests/runtime/test_sweep_workers.py (real workers)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rq import Queue

from aresbot.redis import get_rq_redis, reset_clients
from tests.factories import make_paper_account, make_strategy
from tests.test_sweep_runs import BASE
from trading.runtime.jobs import run_sweep_chunk
from trading.runtime.queues import BACKTEST_QUEUE
from trading.sweeps.models import Sweep, SweepResult

pytestmark = pytest.mark.usefixtures("redis_client")

SAMPLE = "sample:BTCUSDT-1m-2022-05-05"
GRID: dict[str, Any] = {"grid_levels": [3, 6], "buy_offset_pct": ["0.2", "0.4"], "sell_offset_pct": ["0.5"]}


def body(**grid: Any) -> dict[str, Any]:
    return {**BASE, "dataset": SAMPLE, "initial_quote": "2000", "grid": {**GRID, **grid}}


def queued(sweep_id: int) -> list[str]:
    queue = Queue(BACKTEST_QUEUE, connection=get_rq_redis())
    return sorted(j for j in queue.get_job_ids() if j.startswith(f"sweep-{sweep_id}-"))


def errors(client: Any, data: dict[str, Any]) -> Any:
    answer = client.post("/api/sweeps", data, format="json")
    assert answer.status_code == 400, answer.json()
    return answer.json()


@pytest.mark.django_db(transaction=True)
def test_a_posted_sweep_is_queued_in_chunks_and_read_back_ranked_with_its_progress(alice_client):
    answer = alice_client.post("/api/sweeps", body(stop_loss_pct=[None]), format="json")
    assert answer.status_code == 202, answer.json()
    made = answer.json()
    assert made["status"] == "queued" and made["error"] is None
    assert made["progress"] == {"done": 0, "total": 4, "eta_seconds": None}
    assert made["grid"] == {**GRID, "stop_loss_pct": [None]}
    assert made["parameters"]["symbol"] == "BTC/USDT" and made["parameters"]["grid_levels"] == 3
    assert made["options"]["initial_quote"] == "2000"
    assert made["dataset"]["id"] == SAMPLE and made["dataset"]["candles"] == 1440
    assert queued(made["id"]) == [f"sweep-{made['id']}-chunk-{i}" for i in range(4)]

    run_sweep_chunk(made["id"], 2)
    run_sweep_chunk(made["id"], 3)
    running = alice_client.get(f"/api/sweeps/{made['id']}").json()
    assert running["status"] == "running"
    assert running["progress"]["done"] == 2 and running["progress"]["eta_seconds"] is not None
    assert {r["grid_levels"] for r in running["results"]} == {6}  # what is done so far

    run_sweep_chunk(made["id"], 0)
    run_sweep_chunk(made["id"], 1)
    done = alice_client.get(f"/api/sweeps/{made['id']}").json()
    assert done["status"] == "done" and done["finished_at"] is not None
    assert done["progress"] == {"done": 4, "total": 4, "eta_seconds": 0}
    first = done["results"][0]
    assert set(first) == {
        *("grid_levels", "buy_offset_pct", "sell_offset_pct", "stop_loss_pct", "total_pnl", "realized_pnl"),
        *("unrealized_pnl", "max_drawdown", "max_drawdown_pct", "pnl_per_drawdown", "fills", "grid_cycles"),
        *("fees_quote", "rank"),
    }
    assert [r["rank"] for r in done["results"]] == [1, 2, 3, 4]
    pnl = [Decimal(r["total_pnl"]) for r in done["results"]]
    assert pnl == sorted(pnl, reverse=True)
    for order, key, reverse in (
        ("max_drawdown", "max_drawdown", False),
        ("pnl_per_drawdown", "pnl_per_drawdown", True),
    ):
        ranked = alice_client.get(f"/api/sweeps/{made['id']}?order={order}").json()["results"]
        values = [Decimal(r[key]) for r in ranked if r[key] is not None]
        assert values == sorted(values, reverse=reverse), order

    listed = alice_client.get("/api/sweeps").json()
    assert listed["count"] == 1
    assert listed["results"][0]["progress"] == {"done": 4, "total": 4, "eta_seconds": 0}
    assert "results" not in listed["results"][0]


@pytest.mark.django_db
def test_a_sweep_of_5000_combinations_reads_in_a_few_queries(alice_client, alice, django_assert_max_num_queries):
    sweep = Sweep.objects.create(owner=alice, parameters=BASE, grid={}, combinations=5000, chunk_size=20, status="done")
    figures = {
        "grid_levels": 3,
        "buy_offset_pct": "0.2",
        "sell_offset_pct": "0.5",
        "stop_loss_pct": None,
        "realized_pnl": "1.5",
        "unrealized_pnl": "-0.25",
        "max_drawdown": "2",
        "max_drawdown_pct": "0.02",
        "fills": 7,
        "grid_cycles": 3,
        "fees_quote": "0.1",
    }
    SweepResult.objects.bulk_create(
        SweepResult(
            sweep=sweep,
            index=i,
            chunk=i // 20,
            figures={**figures, "total_pnl": str(i % 97), "pnl_per_drawdown": str(Decimal(i % 97) / 2)},
        )
        for i in range(5000)
    )
    with django_assert_max_num_queries(6):
        results = alice_client.get(f"/api/sweeps/{sweep.pk}").json()["results"]
    assert len(results) == 5000
    assert (results[0]["total_pnl"], results[0]["rank"], results[-1]["rank"]) == ("96", 1, 5000)


@pytest.mark.django_db
def test_bad_grids_are_a_400_naming_the_field_and_the_range(alice_client):
    def grid_errors(**grid: Any) -> Any:
        return errors(alice_client, body(**grid))

    assert grid_errors(grid_levels=[3, 101])["grid.grid_levels"] == ["Item 2: Must be between 1 and 100 levels."]
    assert grid_errors(buy_offset_pct=["0"])["grid.buy_offset_pct"] == ["Item 1: Must be between 0.01 and 50 %."]
    assert (
        "Item 2: Must be between 0.01 and 99.99 %" in grid_errors(stop_loss_pct=[None, "120"])["grid.stop_loss_pct"][0]
    )
    assert grid_errors(sell_offset_pct=[])["grid.sell_offset_pct"]
    assert grid_errors(grid_levels=list(range(1, 52)))["grid.grid_levels"]
    assert grid_errors(grid_levels=[3, 3]) == {"grid.grid_levels": ["Each value once."]}
    refused = grid_errors(grid_levels=[5, 10], buy_offset_pct=["5", "10"])["grid"][0]
    assert refused.startswith("The engine refuses 1 of the 4 combinations: grid_levels=10 × buy_offset_pct=10 ×")
    assert "buy_offset_pct × grid_levels < 100" in refused
    assert "grid.grid_levels" in grid_errors(grid_levels=None)
    assert "grid" in errors(alice_client, {**body(), "grid": None})
    without = body()
    del without["grid"]
    assert "grid" in errors(alice_client, without)
    # Every 400 keeps the schema's one shape (field → messages), however deep the serializer.
    for answer in (grid_errors(buy_offset_pct=[""], sell_offset_pct=["x"]), grid_errors(grid_levels=[3, 3])):
        assert all(isinstance(m, list) and all(isinstance(s, str) for s in m) for m in answer.values())
    assert not Sweep.objects.exists()


@pytest.mark.django_db
def test_more_combinations_than_the_limit_are_a_400(alice_client, settings):
    settings.SWEEP_MAX_COMBINATIONS = 3
    assert errors(alice_client, body())["grid"] == ["4 combinations; at most 3 (SWEEP_MAX_COMBINATIONS) in one sweep."]


@pytest.mark.django_db
def test_base_parameters_data_set_and_options_are_checked_as_a_backtests_are(alice_client):
    assert "order_size_quote" in errors(alice_client, {**body(), "order_size_quote": "0"})
    assert "dataset" in errors(alice_client, {**body(), "dataset": "sample:nothing"})
    assert "slippage_pct" in errors(alice_client, {**body(), "slippage_pct": "50"})


@pytest.mark.django_db
def test_an_unknown_order_is_a_400_naming_the_choices(alice_client, alice):
    sweep = Sweep.objects.create(owner=alice, parameters={}, grid={}, combinations=1, chunk_size=1)
    answer = alice_client.get(f"/api/sweeps/{sweep.pk}?order=luck")
    assert answer.status_code == 400
    assert answer.json() == {"order": ["Must be one of total_pnl, max_drawdown, pnl_per_drawdown."]}
    assert alice_client.get(f"/api/sweeps/{sweep.pk}?order=").status_code == 200  # empty: the default order


@pytest.mark.django_db
def test_bobs_sweeps_and_strategies_are_not_found_for_alice(alice_client, bob):
    sweep = Sweep.objects.create(owner=bob, parameters={}, grid={}, combinations=1, chunk_size=1)
    assert alice_client.get("/api/sweeps").json()["count"] == 0
    assert alice_client.get(f"/api/sweeps/{sweep.pk}").status_code == 404
    assert alice_client.delete(f"/api/sweeps/{sweep.pk}").status_code == 404
    assert Sweep.objects.get(pk=sweep.pk).status == "queued"
    strategy = make_strategy(bob, make_paper_account(bob))
    refused = errors(alice_client, {"strategy": strategy.pk, "dataset": SAMPLE, "grid": GRID})
    assert "strategy" in refused


@pytest.mark.django_db(transaction=True)
def test_delete_cancels_a_queued_sweep_then_deletes_it(alice_client):
    made = alice_client.post("/api/sweeps", body(), format="json").json()
    answer = alice_client.delete(f"/api/sweeps/{made['id']}")
    assert answer.status_code == 202 and answer.json()["status"] == "cancelled"
    assert queued(made["id"]) == []
    assert run_sweep_chunk(made["id"], 0) == "the sweep is gone or over"
    assert alice_client.delete(f"/api/sweeps/{made['id']}").status_code == 204
    assert not Sweep.objects.filter(pk=made["id"]).exists()


@pytest.mark.django_db
def test_a_sweep_from_a_strategy_takes_its_parameters(alice_client, alice):
    strategy = make_strategy(alice, make_paper_account(alice), grid_levels=4, order_size_quote=Decimal(50))
    answer = alice_client.post("/api/sweeps", {"strategy": strategy.pk, "dataset": SAMPLE, "grid": GRID}, format="json")
    assert answer.status_code == 202, answer.json()
    made = answer.json()
    assert made["strategy"] == strategy.pk
    assert made["parameters"]["order_size_quote"] == "50" and made["progress"]["total"] == 4


@pytest.mark.django_db
def test_an_unreachable_queue_is_a_503_and_the_sweep_is_failed(alice_client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    reset_clients()
    try:
        answer = alice_client.post("/api/sweeps", body(), format="json")
    finally:
        reset_clients()
    assert answer.status_code == 503
    sweep = Sweep.objects.get()
    assert (sweep.status, sweep.error) == ("failed", "The job queue (Redis) could not be reached; nothing ran.")
