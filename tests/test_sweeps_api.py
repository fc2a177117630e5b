"""/api/sweeps and the chunk jobs run in this process: input checks (400 naming field and range), isolation, chunks
recorded once per combination, the last chunk finishing the sweep, a failed chunk failing it, cancel, the ETA."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rq import Queue

from aresbot.redis import get_rq_redis
from tests.factories import make_paper_account, make_strategy
from trading.runtime.queues import BACKTEST_QUEUE
from trading.sweeps import services
from trading.sweeps.jobs import run_sweep_chunk
from trading.sweeps.models import Sweep, SweepResult

pytestmark = pytest.mark.usefixtures("redis_client")

SAMPLE = "sample:BTCUSDT-1m-2022-05-05"


def body(**grid: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"grid_levels": [3, 6], "buy_offset_pct": ["0.2", "0.4"], "sell_offset_pct": ["0.5"]}
    values.update(grid)
    return {
        "symbol": "BTC/USDT",
        "grid_levels": 3,
        "buy_offset_pct": "0.3",
        "sell_offset_pct": "0.4",
        "order_size_quote": "100",
        "reprice_threshold_pct": "1",
        "dataset": SAMPLE,
        "grid": values,
    }


def queued(sweep_id: int) -> list[str]:
    return [j for j in Queue(BACKTEST_QUEUE, connection=get_rq_redis()).get_job_ids() if j.startswith(f"sweep-{sweep_id}-")]


def make(alice_client: Any, **grid: Any) -> dict[str, Any]:
    answer = alice_client.post("/api/sweeps", body(**grid), format="json")
    assert answer.status_code == 202, answer.json()
    return answer.json()


@pytest.mark.django_db(transaction=True)
def test_a_sweep_is_queued_as_chunks_and_the_last_chunk_to_finish_marks_it_done(alice_client, settings):
    settings.SWEEP_CHUNK_SIZE = 1
    made = make(alice_client)
    assert made["status"] == "queued"
    assert made["progress"] == {"done": 0, "total": 4, "eta_seconds": None}
    assert made["grid"] == {"grid_levels": [3, 6], "buy_offset_pct": ["0.2", "0.4"], "sell_offset_pct": ["0.5"]}
    assert made["parameters"]["grid_levels"] == 3 and made["parameters"]["symbol"] == "BTC/USDT"
    sweep = Sweep.objects.get(pk=made["id"])
    assert sweep.chunks == 4
    assert sorted(queued(sweep.pk)) == [f"sweep-{sweep.pk}-chunk-{i}" for i in range(4)]
    for chunk in (2, 0, 3):
        run_sweep_chunk(sweep.pk, chunk)
        sweep.refresh_from_db()
        assert sweep.status == "running" and sweep.finished_at is None
    running = alice_client.get(f"/api/sweeps/{sweep.pk}").json()
    assert running["progress"]["done"] == 3 and running["progress"]["eta_seconds"] is not None
    assert len(running["results"]) == 3  # the combinations done so far
    run_sweep_chunk(sweep.pk, 1)
    sweep.refresh_from_db()
    assert sweep.status == "done" and sweep.finished_at is not None
    listed = alice_client.get("/api/sweeps").json()["results"]
    assert [(s["id"], s["progress"]) for s in listed] == [(sweep.pk, {"done": 4, "total": 4, "eta_seconds": 0})]
    assert "results" not in listed[0]
    detail = alice_client.get(f"/api/sweeps/{sweep.pk}").json()
    assert [r["rank"] for r in detail["results"]] == [1, 2, 3, 4]
    pnls = [Decimal(r["total_pnl"]) for r in detail["results"]]
    assert pnls == sorted(pnls, reverse=True)
    drawdowns = [Decimal(r["max_drawdown"]) for r in alice_client.get(f"/api/sweeps/{sweep.pk}?order=max_drawdown").json()["results"]]
    assert drawdowns == sorted(drawdowns)


@pytest.mark.django_db(transaction=True)
def test_a_chunk_run_again_counts_each_combination_once(alice_client, settings):
    settings.SWEEP_CHUNK_SIZE = 2
    sweep = Sweep.objects.get(pk=make(alice_client)["id"])
    run_sweep_chunk(sweep.pk, 0)
    first = list(SweepResult.objects.filter(sweep=sweep).values_list("index", "figures"))
    # A retry after a worker died mid-chunk: one combination's row lost with it, the other kept.
    SweepResult.objects.filter(sweep=sweep, index=1).delete()
    assert run_sweep_chunk(sweep.pk, 0) == "chunk 0: 1 combinations run, 1 found done"
    assert list(SweepResult.objects.filter(sweep=sweep).values_list("index", "figures")) == first
    run_sweep_chunk(sweep.pk, 0)
    assert SweepResult.objects.filter(sweep=sweep).count() == 2
    sweep.refresh_from_db()
    assert sweep.status == "running"
    run_sweep_chunk(sweep.pk, 1)
    run_sweep_chunk(sweep.pk, 1)
    sweep.refresh_from_db()
    assert (sweep.status, SweepResult.objects.filter(sweep=sweep).count()) == ("done", 4)


@pytest.mark.django_db(transaction=True)
def test_a_failing_chunk_fails_the_sweep_with_its_reason_and_takes_the_rest_off_the_queue(alice_client, settings):
    settings.SWEEP_CHUNK_SIZE = 1
    sweep = Sweep.objects.get(pk=make(alice_client)["id"])
    Sweep.objects.filter(pk=sweep.pk).update(sample="no-such-sample")
    with pytest.raises(LookupError):
        run_sweep_chunk(sweep.pk, 0)
    sweep.refresh_from_db()
    assert sweep.status == "failed"
    assert sweep.error.startswith("chunk 1 of 4: DatasetUnavailable")
    assert "no-such-sample" in sweep.error
    assert queued(sweep.pk) == []
    assert run_sweep_chunk(sweep.pk, 1) == "the sweep is gone or over"


@pytest.mark.django_db(transaction=True)
def test_delete_cancels_a_queued_sweep_and_deletes_an_ended_one(alice_client):
    made = make(alice_client)
    answer = alice_client.delete(f"/api/sweeps/{made['id']}")
    assert answer.status_code == 202 and answer.json()["status"] == "cancelled"
    assert queued(made["id"]) == []
    assert run_sweep_chunk(made["id"], 0) == "the sweep is gone or over"
    assert alice_client.delete(f"/api/sweeps/{made['id']}").status_code == 204
    assert not Sweep.objects.filter(pk=made["id"]).exists()


@pytest.mark.django_db
def test_the_eta_follows_the_rate_combinations_were_done_at(alice):
    now = timezone.now()
    sweep = Sweep(owner=alice, combinations=100, chunk_size=5, status="running", started_at=now - timedelta(seconds=30))
    assert services.progress(sweep, 20, now) == {"done": 20, "total": 100, "eta_seconds": 120}
    assert services.progress(sweep, 0, now)["eta_seconds"] is None
    sweep.status = "queued"
    assert services.progress(sweep, 0, now)["eta_seconds"] is None


@pytest.mark.django_db
def test_bad_grids_are_a_400_naming_the_field_and_the_range(alice_client):
    def errors(**grid: Any) -> Any:
        answer = alice_client.post("/api/sweeps", body(**grid), format="json")
        assert answer.status_code == 400, answer.json()
        return answer.json()

    assert "Must be between 1 and 100 levels." in str(errors(grid_levels=[3, 101])["grid"]["grid_levels"])
    assert "Must be between 0.01 and 50 %." in str(errors(buy_offset_pct=["0"])["grid"]["buy_offset_pct"])
    stop = errors(stop_loss_pct=[None, "120"])["grid"]["stop_loss_pct"]
    assert "Must be between 0.01 and 99.99 %" in str(stop)
    assert "at least 1" in str(errors(sell_offset_pct=[])["grid"]["sell_offset_pct"]).lower()
    assert "no more than 50" in str(errors(grid_levels=list(range(1, 52)))["grid"]["grid_levels"]).lower()
    refused = errors(grid_levels=[5, 10], buy_offset_pct=["5", "10"])["grid"]["grid"]
    assert "The engine refuses 1 of the 4 combinations: grid_levels=10 × buy_offset_pct=10" in str(refused)
    assert "Each value once." in str(errors(grid_levels=[3, 3])["grid"]["grid_levels"])
    assert "grid" in alice_client.post("/api/sweeps", {**body(), "grid": None}, format="json").json()
    assert not Sweep.objects.exists()


@pytest.mark.django_db
def test_more_combinations_than_the_limit_are_a_400(alice_client, settings):
    settings.SWEEP_MAX_COMBINATIONS = 3
    answer = alice_client.post("/api/sweeps", body(), format="json")
    assert answer.status_code == 400
    assert answer.json()["grid"]["grid"] == ["4 combinations; at most 3 (SWEEP_MAX_COMBINATIONS) in one sweep."]


@pytest.mark.django_db
def test_bad_base_parameters_are_refused_as_a_backtest_refuses_them(alice_client):
    answer = alice_client.post("/api/sweeps", {**body(), "order_size_quote": "0"}, format="json")
    assert answer.status_code == 400
    assert "order_size_quote" in answer.json()


@pytest.mark.django_db
def test_an_unknown_order_is_a_400_naming_the_choices(alice_client, alice):
    sweep = Sweep.objects.create(owner=alice, parameters={}, grid={}, combinations=1, chunk_size=1)
    answer = alice_client.get(f"/api/sweeps/{sweep.pk}?order=luck")
    assert answer.status_code == 400
    assert answer.json() == {"order": ["Must be one of total_pnl, max_drawdown, pnl_per_drawdown."]}


@pytest.mark.django_db
def test_bobs_sweeps_are_not_found_for_alice(alice_client, bob):
    sweep = Sweep.objects.create(owner=bob, parameters={}, grid={}, combinations=1, chunk_size=1)
    assert alice_client.get("/api/sweeps").json()["count"] == 0
    assert alice_client.get(f"/api/sweeps/{sweep.pk}").status_code == 404
    assert alice_client.delete(f"/api/sweeps/{sweep.pk}").status_code == 404
    assert Sweep.objects.get(pk=sweep.pk).status == "queued"


@pytest.mark.django_db
def test_a_sweep_of_bobs_strategy_is_refused(alice_client, bob):
    strategy = make_strategy(bob, make_paper_account(bob))
    answer = alice_client.post("/api/sweeps", {"strategy": strategy.pk, "dataset": SAMPLE, "grid": body()["grid"]}, format="json")
    assert answer.status_code == 400
    assert "strategy" in answer.json()
