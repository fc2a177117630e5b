"""RQ job functions: run a strategy's engine, stop one that has no engine, supervise them all, run a backtest.

Jobs take primary keys and re-read the row, so a job queued before an edit or a delete acts on what is true now.
"""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from rq import get_current_job

from aresbot.redis import get_redis
from trading.backtests import downloads, rescue, runs
from trading.core.events import EventKind, event
from trading.runtime import coordination as co
from trading.runtime.build import build_engine
from trading.runtime.clock import SYSTEM_CLOCK, RuntimeClock
from trading.runtime.queues import enqueue_run
from trading.runtime.runner import (
    STOPPED_BY_UNKNOWN,
    FencedExchange,
    LeasedStatusBoard,
    RunOutcome,
    StrategyRunner,
    install_handover_signal,
)
from trading.runtime.spec import strategy_source
from trading.sweeps import runs as sweep_runs

log = logging.getLogger(__name__)


def _holder() -> str:
    job = get_current_job()
    return job.id if job is not None else f"local-{uuid.uuid4()}"


def run_strategy(strategy_id: int) -> str:
    """Run one strategy's engine until it is stopped, its lease is lost, or it fails fatally."""
    close_old_connections()
    if get_current_job() is not None:
        install_handover_signal()
    return str(StrategyRunner(strategy_id, _holder(), client=get_redis()).run())


def run_backtest(backtest_id: int) -> str:
    """Run one queued backtest (the `backtests` queue): progress while it runs, its results at the end."""
    return runs.execute(backtest_id)


def download_dataset(dataset_id: int) -> str:
    """Download a data set's candles from its exchange (the `backtests` queue), with progress."""
    return downloads.execute(dataset_id)


def run_sweep_chunk(sweep_id: int, chunk: int) -> str:
    """Run one chunk of a sweep's combinations (the `backtests` queue; trading.sweeps.runs)."""
    return sweep_runs.execute_chunk(sweep_id, chunk)


def rescue_lost_jobs() -> dict[str, int]:
    """Queue again (or fail) the backtests, sweep chunks and downloads whose RQ job was lost (the control queue's
    cron; trading.backtests.rescue)."""
    close_old_connections()
    return rescue.rescue_lost()


def stop_without_engine(strategy_id: int, cancel_all: bool = False) -> str:
    """A stop that found no engine running: take the lease, reconcile, cancel what a stop cancels, let go.

    Without this, the buys of a strategy whose worker died would stay resting on the exchange after "stop".
    """
    close_old_connections()
    client = get_redis()
    spec = strategy_source().load(strategy_id)
    if spec is None or spec.running:
        return "nothing to do"
    lease = co.Lease(client, strategy_id, _holder(), settings.STRATEGY_LOCK_TTL)
    if not lease.acquire():
        return "an engine holds the strategy: it handles the stop signal itself"

    def fence() -> None:
        if not lease.renew():
            raise RuntimeError("lease lost while stopping")

    try:
        board = LeasedStatusBoard(lease, {"task_id": lease.holder}, ttl_seconds=settings.STRATEGY_LOCK_TTL)
        engine = build_engine(spec, status_board=board, wrap_exchange=lambda ex: FencedExchange(ex, fence))
        engine.start(first_tick=False)
        engine.stop(cancel_all=cancel_all)
        stopped = event(
            EventKind.STOPPED,
            timezone.now(),
            by=spec.stopped_by or STOPPED_BY_UNKNOWN,
            cancel_mode="all" if cancel_all else "buys",
            node=None,
        )
        strategy_source().record_events(strategy_id, [stopped])
        co.delete_status(client, strategy_id)
        co.clear_stop(client, strategy_id)
        return str(RunOutcome.STOPPED)
    finally:
        lease.release()


def supervise(*, clock: RuntimeClock = SYSTEM_CLOCK) -> dict[str, int]:
    """Every few seconds (RQ cron): run what should run, break the leases of engines that stopped responding.

    One query and one pipeline per pass, whatever the number of strategies. It logs only what it does (a queued
    strategy, a broken lease); a pass with nothing to do logs at DEBUG.
    """
    close_old_connections()
    client = get_redis()
    co.prune_workers(client)
    wanted = strategy_source().wanted_ids()
    pipe = client.pipeline(transaction=False)
    for sid in wanted:
        pipe.get(co.LOCK_KEY.format(id=sid))
        pipe.hmget(co.RUNNING_KEY.format(id=sid), ["updated_at", "task_id"])
        pipe.exists(co.ENQUEUED_KEY.format(id=sid))
        pipe.exists(co.BACKOFF_KEY.format(id=sid))
    answers = pipe.execute()
    now = clock.time()
    counts = {"wanted": len(wanted), "enqueued": 0, "broken": 0, "backing_off": 0}
    for index, sid in enumerate(wanted):
        holder, (updated_at, task_id), enqueued, backing_off = answers[4 * index : 4 * index + 4]
        if holder is not None:
            # An engine that has written nothing for STRATEGY_STALE_AFTER: its node is gone (or hung, and its
            # fence will stop it at its next send). Break the lease instead of waiting out its TTL, and queue
            # the strategy again in this same pass. A hash another job wrote is the previous run's: the holder is
            # starting (its first write replaces it), and only its lease's TTL can say it died meanwhile.
            if not (task_id == holder and _is_stale(updated_at, now) and co.break_stale_lease(client, sid, holder)):
                continue
            log.warning("strategy %s: lease of %s broken (no status for a while)", sid, holder)
            counts["broken"] += 1
            co.clear_enqueued(client, sid)
            enqueued = False
        if backing_off:
            counts["backing_off"] += 1
            continue
        if not enqueued and enqueue_run(sid) is not None:
            log.info("strategy %s: should run and no engine holds it; queued", sid)
            counts["enqueued"] += 1
    # Every few seconds on every node: a pass that changed nothing is DEBUG, so the console shows what it did.
    log.debug("supervise: %s", counts)
    return counts


def _is_stale(updated_at: str | None, now: float) -> bool:
    if not updated_at:
        # A lease without a status hash: the engine is starting (it writes within a second) or the hash expired.
        return False
    try:
        return now - float(updated_at) > settings.STRATEGY_STALE_AFTER
    except ValueError:
        return False
