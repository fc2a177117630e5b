"""Engine hosts: many strategies' engines in one worker process.

An engine host is an RQ worker (EngineHostWorker) that takes `run_strategy` jobs from the `strategies` queue while
it has a free slot (ENGINE_HOST_CAPACITY) and runs each job's engine itself instead of forking a work-horse for
it. RQ stays truthful: a job is in the StartedJobRegistry (status started, its execution's heartbeat kept alive
by the host) while its engine runs, and finished (the run's outcome as its result) or failed (the error) when
it ends; a host killed with SIGKILL leaves its jobs to RQ's abandoned-job clean-up, like a dead work-horse.

Each engine keeps the Redis contract of a lone StrategyRunner — its own lease held by its job id, the fence
before every order and cancel, its status hash, its stop signal, its events — because it *is* a StrategyRunner,
driven step by step (begin, open, step …, release) instead of by its own loop. What the host does once per
round (every STRATEGY_STOP_POLL_INTERVAL) for all its engines at once:

- renew every lease in one pipeline (the same compare-and-set script per lease), read every stop signal in one
  MGET, write every status published since the last round in one pipeline, release the leases of the runs that
  ended in one pipeline, keep the node's heartbeat and the RQ jobs' heartbeats;
- step the engines that have something to do (a tick due, a stop, a database check, a handover) on a small
  thread pool (ENGINE_HOST_THREADS): Django's database connections are per thread, so a host holds at most
  that many connections whatever its number of engines. An engine whose step is still running is not stepped
  again, and each exchange account (and each CCXT exchange) has a bound on how many of its engines step at once,
  so a slow or hanging exchange holds up a few threads, never the others' ticks;
- an engine that makes no progress for its hang_after is dropped alone: its lease is no longer renewed and
  lapses, another host takes the strategy over, the fence keeps the hung one from sending should it wake, and
  the pool starts a thread in place of the one it holds;
- start a new round of shared prices: the engines on one CCXT exchange (or paper accounts following it) get
  their prices from one `fetch_tickers` per round (trading/runtime/prices.py).

SIGTERM hands every strategy over at once (each records handed_over, the leases are released in one pipeline),
then the worker exits; lost Redis fences every engine (no send while its lease is unconfirmed, and after a
lease TTL without confirmation each ends as lease lost).

`HostRound` is the one place per round where the figures an operator wants are known (engines, ticks stepped,
tick lag, lease renew failures, failovers, hung engines): each round reports them to /metrics (aresbot.metrics),
and `EngineHost.observe` gets them all.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from types import TracebackType
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from rq import SimpleWorker
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.utils import now
from rq.worker.base import WorkerStatus

from aresbot import metrics
from aresbot.redis import get_redis
from exchanges.paper.store import book_key, stored_feed_spec
from trading.runtime import coordination as co
from trading.runtime.clock import SYSTEM_CLOCK, RuntimeClock
from trading.runtime.pool import WORKER_INDEX_ENV
from trading.runtime.prices import RoundPrices
from trading.runtime.prices import install as install_prices
from trading.runtime.queues import RUN_STRATEGY
from trading.runtime.runner import NODE_HEARTBEAT_SECONDS, RunOutcome, RunResult, StrategyRunner
from trading.runtime.worker import WORKER_TTL, _NodeHeartbeat

log = logging.getLogger(__name__)

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]

# How often the host tells RQ its jobs are alive; their heartbeat lives JOB_TTL (RQ's own for a forked job).
JOB_HEARTBEAT_SECONDS = 10.0
JOB_TTL = 90
# How long a host that is told to stop waits for its engines to hand over (each at its next step, or when a slow
# exchange call returns) before it exits and leaves the rest to lapse: under the node's own grace (pool.py).
HANDOVER_GRACE = 40.0


class Phase(StrEnum):
    NEW = "new"  # admitted, the lease not taken yet
    OPENING = "opening"  # lease held, the engine being built and started
    RUNNING = "running"
    ENDED = "ended"  # the run has a result; the host releases it and finishes its job


@dataclass(eq=False)
class HostedEngine:
    """One strategy's run inside a host: its runner, where it is, and what the job needs at the end."""

    runner: StrategyRunner
    context: Any = None  # the RQ job, queue and execution (EngineHostWorker), or whatever the host's owner needs
    phase: Phase = Phase.NEW
    busy: bool = False  # a step (or the start) is queued or running on the pool
    busy_since: float = 0.0
    stop: co.StopMode | None = None  # the stop signal as the last round read it
    limits: tuple[str, ...] = ()
    result: RunResult | None = None
    exc_info: ExcInfo | None = None
    released: bool = False  # its lease needs no release (never taken, or let lapse)
    hung: bool = False  # dropped for making no progress: its step still holds a thread, its run is over

    @property
    def strategy_id(self) -> int:
        return self.runner.strategy_id


@dataclass
class HostRound:
    """What one round saw and did: the seam for metrics (ticks, lag, renew failures, hangs)."""

    started: float
    engines: int = 0
    stepped: int = 0
    skipped_busy: int = 0  # due, but still stepping (a slow tick is never queued twice)
    skipped_limited: int = 0  # due, but its exchange already has as many steps running as it may
    tick_lag: list[float] = field(default_factory=list)  # seconds each stepped engine's tick was late
    renew_failures: int = 0  # leases found lost by the renew
    redis_errors: int = 0
    hung: list[int] = field(default_factory=list)  # strategies dropped as hung this round
    failovers: int = 0  # engines started since the last round that took over from a run that died
    ended: list[tuple[int, str]] = field(default_factory=list)  # (strategy, outcome) of the runs released
    seconds: float = 0.0


class TickPool:
    """A fixed number of threads stepping engines; a thread held by a hung engine is replaced (up to twice the
    size), and the extra thread retires when the hung step returns."""

    def __init__(self, size: int, name: str = "engine") -> None:
        self.size = size
        self.name = name
        self._tasks: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._retire = 0
        self._closed = False
        for _ in range(size):
            self._spawn()

    def _spawn(self) -> None:
        with self._lock:
            self._threads += 1
            number = self._threads
        threading.Thread(target=self._work, name=f"{self.name}-{number}", daemon=True).start()

    def _work(self) -> None:
        try:
            while True:
                task = self._tasks.get()
                if task is None:
                    return
                try:
                    task()
                except Exception:  # a task handles its own errors; this keeps the thread alive if one does not
                    log.exception("engine host: a step failed outside its engine")
                with self._lock:
                    if self._retire > 0:
                        self._retire -= 1
                        return
        finally:
            with self._lock:
                self._threads -= 1
            connection.close()  # this thread's database connection

    @property
    def threads(self) -> int:
        return self._threads

    def submit(self, task: Callable[[], None]) -> None:
        self._tasks.put(task)

    def replace_hung(self) -> None:
        """A thread is held by a hung step: start another in its place, up to twice the pool's size."""
        if self._threads < 2 * self.size:
            self._spawn()

    def hung_step_returned(self) -> None:
        """The thread of a hung step is free again: one thread too many retires."""
        with self._lock:
            if self._threads - self._retire > self.size:
                self._retire += 1

    def close(self) -> None:
        self._closed = True
        for _ in range(2 * self.size):
            self._tasks.put(None)


class Limits:
    """Per-key bounds on concurrent steps (one key per exchange account, one per CCXT exchange), never waited on:
    an engine whose exchange is at its bound is stepped at a later round."""

    def __init__(self, per_account: int, per_exchange: int) -> None:
        self.per_account = per_account
        self.per_exchange = per_exchange
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    def bound(self, key: str) -> int:
        return self.per_exchange if key.startswith("exchange:") else self.per_account

    def try_take(self, keys: tuple[str, ...]) -> bool:
        with self._lock:
            if any(self._running.get(key, 0) >= self.bound(key) for key in keys):
                return False
            for key in keys:
                self._running[key] = self._running.get(key, 0) + 1
            return True

    def give_back(self, keys: tuple[str, ...]) -> None:
        with self._lock:
            for key in keys:
                self._running[key] -= 1


def limit_keys(runner: StrategyRunner) -> tuple[str, ...]:
    """The bounds an engine's steps count against: its account's, and the exchange's it waits on (its own, or for a
    paper account the one whose live ticker prices its book)."""
    spec = runner.spec
    if spec is None:
        return ()
    account = f"account:{spec.account.pk}"
    if not spec.account.is_paper:
        return (account, f"exchange:{spec.account.exchange}")
    feed = stored_feed_spec(book_key(spec.account.pk), spec.symbol) or {}
    return (account, f"exchange:{feed.get('exchange', 'binance')}") if feed.get("kind") == "ticker" else (account,)


class EngineHost:
    """The engines of one process, driven in rounds (see the module's docstring). `finished(engine)` is called
    (on the round's thread) for each run once its lease is released, with `engine.result` or `engine.exc_info`."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        capacity: int,
        threads: int,
        finished: Callable[[HostedEngine], None],
        poll_interval: float | None = None,
        clock: RuntimeClock = SYSTEM_CLOCK,
        worker_ip: str = "",
        keep_jobs_alive: Callable[[list[HostedEngine]], None] | None = None,
        observe: Callable[[HostRound], None] | None = None,
    ) -> None:
        self.client = client
        self.capacity = capacity
        self.poll = float(poll_interval or settings.STRATEGY_STOP_POLL_INTERVAL)
        self.clock = clock
        self.worker_ip = worker_ip or settings.WORKER_IP
        self.ip, self.hostname = co.node_identity(self.worker_ip)
        self.pool = TickPool(threads)
        self.limits = Limits(per_account=max(1, threads // 4), per_exchange=max(1, threads // 2))
        self.finished = finished
        self.keep_jobs_alive = keep_jobs_alive
        self.observe = observe
        self.prices = RoundPrices()
        self.engines: dict[int, HostedEngine] = {}  # by id(): one strategy may come twice (the loser ends at once)
        self._lock = threading.Lock()
        # Held while the round writes the statuses and while a run that ended writes its last status, so that a
        # buffered "running" written late cannot overwrite an "error".
        self.status_lock = threading.Lock()
        self._handover: str | None = None
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_node_beat = 0.0
        self._last_job_beat = 0.0
        self._redis_down = False
        self._failovers = 0

    # --- admission ---------------------------------------------------------------------------------------------------
    def free_slots(self) -> int:
        with self._lock:
            return self.capacity - len(self.engines)

    def __len__(self) -> int:
        with self._lock:
            return len(self.engines)

    def admit(self, strategy_id: int, holder: str, context: Any = None) -> HostedEngine:
        runner = StrategyRunner(
            strategy_id,
            holder,
            client=self.client,
            clock=self.clock,
            poll_interval=self.poll,
            worker_ip=self.worker_ip,
            handover=self.handover_reason,
            hosted=True,
        )
        engine = HostedEngine(runner, context, busy=True, busy_since=self.clock.monotonic())
        with self._lock:
            self.engines[id(engine)] = engine
        self.pool.submit(partial(self._open, engine))
        return engine

    def handover_reason(self) -> str | None:
        return self._handover

    def hand_over_all(self, reason: str = "worker shutting down") -> None:
        """Every engine hands its strategy over at the next round (safe to call from a signal handler)."""
        self._handover = reason

    # --- the round ---------------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._rounds, name="engine-host", daemon=True)
        self._thread.start()

    def _rounds(self) -> None:
        while not self._closed.is_set():
            began = self.clock.monotonic()
            try:
                self.round()
            except Exception:  # the round must go on: its engines' leases depend on it
                log.exception("engine host: round failed")
            self._closed.wait(max(0.0, self.poll - (self.clock.monotonic() - began)))

    def round(self) -> HostRound:
        now = self.clock.monotonic()
        stats = HostRound(started=now)
        self.prices.next_round()
        with self._lock:
            engines = list(self.engines.values())
        stats.engines = len(engines)
        self._release_ended(engines, stats)
        live = [e for e in engines if e.phase in (Phase.OPENING, Phase.RUNNING)]
        self._find_hung(live, stats)
        live = [e for e in live if not e.hung]
        stats.failovers, self._failovers = self._failovers, 0
        try:
            held = co.renew_many(self.client, [e.runner.lease for e in live])
            for engine, ok in zip(live, held, strict=True):
                engine.runner.renewed(ok)
                stats.renew_failures += not ok
            running = [e for e in live if e.phase is Phase.RUNNING]
            stops = co.stop_signals(self.client, [e.strategy_id for e in running])
            for engine, stop in zip(running, stops, strict=True):
                engine.stop = stop
            self._write_statuses(running)
            self._beat(engines)
            self._redis_down = False
        except redis.RedisError as exc:
            # No renew: each engine's fence refuses sends, and after a lease TTL its next step ends it (lease lost).
            stats.redis_errors += 1
            if not self._redis_down:  # once per outage, not every round
                log.warning("engine host: Redis unreachable, no lease can be renewed: %s", exc)
            self._redis_down = True
        self._dispatch([e for e in live if e.phase is Phase.RUNNING], stats)
        stats.seconds = self.clock.monotonic() - now
        metrics.round_done(
            engines=len(self), capacity=self.capacity, tick_lags=stats.tick_lag, renew_failures=stats.renew_failures
        )
        for _ in range(stats.failovers):
            metrics.failed_over()
        if self.observe is not None:
            self.observe(stats)
        return stats

    def _find_hung(self, live: list[HostedEngine], stats: HostRound) -> None:
        now = self.clock.monotonic()
        for engine in live:
            runner = engine.runner
            if not (engine.busy and now - max(engine.busy_since, runner._progress) > runner.hang_after):
                continue
            with self.status_lock:
                if not engine.busy:
                    continue  # its step returned just now
                # Its run is over: the lease is no longer renewed (another host takes the strategy once it lapses),
                # the job ends now and frees its slot; should the step ever return, it touches nothing.
                engine.hung = engine.released = True
                engine.result = RunResult(RunOutcome.LEASE_LOST, "the engine hung; its lease was left to lapse")
                engine.phase = Phase.ENDED
            log.error(
                "strategy %s: engine made no progress for %.0f s; letting the lease lapse",
                engine.strategy_id,
                runner.hang_after,
            )
            stats.hung.append(engine.strategy_id)
            self.pool.replace_hung()

    def _write_statuses(self, running: list[HostedEngine]) -> None:
        with self.status_lock:
            writes = []
            for engine in running:
                board = engine.runner.board
                if board is not None and board.pending is not None:
                    writes.append((board.lease, board.pending, board.ttl_seconds))
                    board.pending = None
            co.write_statuses(self.client, writes)

    def _beat(self, engines: list[HostedEngine]) -> None:
        now = self.clock.monotonic()
        if now - self._last_node_beat >= NODE_HEARTBEAT_SECONDS:
            self._last_node_beat = now
            co.heartbeat(self.client, self.ip, self.hostname, ttl_seconds=3 * NODE_HEARTBEAT_SECONDS)
        if self.keep_jobs_alive is not None and now - self._last_job_beat >= JOB_HEARTBEAT_SECONDS:
            self._last_job_beat = now
            self.keep_jobs_alive([e for e in engines if e.phase is not Phase.ENDED])

    def _dispatch(self, running: list[HostedEngine], stats: HostRound) -> None:
        now = self.clock.monotonic()
        for engine in running:
            runner = engine.runner
            if not runner.due(engine.stop):
                continue
            if engine.busy:
                stats.skipped_busy += 1
                continue
            if not self.limits.try_take(engine.limits):
                stats.skipped_limited += 1
                continue
            if now >= runner.next_tick:
                stats.tick_lag.append(now - runner.next_tick)
            stats.stepped += 1
            engine.busy, engine.busy_since = True, now
            self.pool.submit(partial(self._step, engine))

    # --- on the pool's threads ---------------------------------------------------------------------------------------
    def _open(self, engine: HostedEngine) -> None:
        runner = engine.runner
        try:
            if self._handover:
                result: RunResult | None = RunResult(RunOutcome.NOT_STARTED, self._handover)
                co.clear_enqueued(self.client, engine.strategy_id)
                engine.released = True
            else:
                result = runner.begin()
                if result is not None:
                    engine.released = True  # no lease was taken
                else:
                    engine.phase = Phase.OPENING
                    result = runner.open()
                    engine.limits = limit_keys(runner)
        except BaseException as exc:
            self._ended(engine, exc)
            return
        self._settle(engine, result)

    def _step(self, engine: HostedEngine) -> None:
        try:
            result = engine.runner.step(engine.stop)
        except BaseException as exc:
            self._ended(engine, exc)
        else:
            self._settle(engine, result)
        finally:
            self.limits.give_back(engine.limits)

    def _woke_after_hanging(self, engine: HostedEngine) -> bool:
        """A step of an engine dropped as hung returned: its thread is free again, and its run was already ended."""
        with self.status_lock:
            if not engine.hung:
                return False
            engine.busy = False
        self.pool.hung_step_returned()
        return True

    def _settle(self, engine: HostedEngine, result: RunResult | None) -> None:
        if self._woke_after_hanging(engine):
            return
        if result is not None:
            with self.status_lock:
                engine.result = result
                engine.phase = Phase.ENDED
        elif engine.phase is Phase.OPENING:
            engine.phase = Phase.RUNNING
            if engine.runner.failed_over_from:
                self._failovers += 1
        engine.busy = False

    def _ended(self, engine: HostedEngine, exc: BaseException) -> None:
        if self._woke_after_hanging(engine):
            return
        if engine.phase is Phase.NEW:
            # begin() failed (Redis or the database away): no lease taken; the job fails with the error.
            engine.released = True
            engine.exc_info = sys.exc_info()  # type: ignore[assignment]
            engine.result = RunResult(RunOutcome.ERROR, f"{type(exc).__name__}: {exc}")
        else:
            with self.status_lock:
                board = engine.runner.board
                if board is not None:
                    board.buffered, board.pending = False, None
                if isinstance(exc, Exception):
                    engine.result = engine.runner.ended_by(exc)
                    if engine.result.outcome is RunOutcome.ERROR and not _fatal(exc):
                        engine.exc_info = sys.exc_info()  # type: ignore[assignment]
                else:
                    engine.result = RunResult(RunOutcome.ERROR, f"{type(exc).__name__}: {exc}")
                    engine.exc_info = sys.exc_info()  # type: ignore[assignment]
        engine.phase = Phase.ENDED
        engine.busy = False

    # --- the end of runs ---------------------------------------------------------------------------------------------
    def _release_ended(self, engines: list[HostedEngine], stats: HostRound) -> None:
        ended = [e for e in engines if e.phase is Phase.ENDED and (e.hung or not e.busy)]
        if not ended:
            return
        to_release = [e for e in ended if not e.released]
        try:
            co.end_runs(
                self.client,
                [(e.runner.lease, *e.runner.end(e.result or RunResult(RunOutcome.ERROR))) for e in to_release],
            )
        except redis.RedisError as exc:
            for engine in to_release:
                log.warning("strategy %s: lease not released (it will expire): %s", engine.strategy_id, exc)
        for engine in ended:
            with self._lock:
                self.engines.pop(id(engine), None)
            stats.ended.append((engine.strategy_id, str(engine.result)))
            try:
                self.finished(engine)
            except Exception:
                log.exception("strategy %s: the end of its job was not recorded", engine.strategy_id)

    def wait_empty(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while len(self) and time.monotonic() < deadline:
            time.sleep(0.05)
        return not len(self)

    def close(self, grace: float) -> bool:
        """Hand every strategy over and wait (up to `grace` seconds) for all runs to be released; then stop the
        rounds. True when every run ended; the rest's leases lapse."""
        self.hand_over_all(self._handover or "worker shutting down")
        if self._thread is None:
            self.start()
        done = self.wait_empty(grace)
        self._closed.set()
        self.pool.close()
        return done


def _fatal(exc: BaseException) -> bool:
    from exchanges.base import FatalExchangeError
    from trading.runtime.runner import LeaseLost

    return isinstance(exc, FatalExchangeError | LeaseLost)


class EngineHostWorker(_NodeHeartbeat, SimpleWorker):
    """An RQ worker on the `strategies` queue that runs up to ENGINE_HOST_CAPACITY engines in its own process.

    It dequeues only while a slot is free, so hosts fill up to their capacity and more hosts (or nodes) mean more
    capacity. The first SIGTERM hands every strategy over at once, then the worker exits; a second is RQ's cold
    shutdown (the leases lapse).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("worker_ttl", WORKER_TTL)
        super().__init__(*args, **kwargs)
        self.host = EngineHost(
            get_redis(),
            capacity=settings.ENGINE_HOST_CAPACITY,
            threads=settings.ENGINE_HOST_THREADS,
            finished=self._job_ended,
            keep_jobs_alive=self._keep_jobs_alive,
        )
        self._job_lock = threading.Lock()
        self._cold = False
        install_prices(self.host.prices)  # this process's exchanges share their prices within a round

    # --- RQ's loop ---------------------------------------------------------------------------------------------------
    def work(self, *args: Any, **kwargs: Any) -> bool:
        # Its own metrics server (METRICS_PORT + its index on the node; none by default), its gauges named after it.
        index = os.environ.get(WORKER_INDEX_ENV, "0")
        _ip, hostname = co.node_identity(settings.WORKER_IP)
        metrics.serve_worker(int(index) if index.isdigit() else 0, host=f"{hostname}:{index}")
        self.host.start()
        return bool(super().work(*args, **kwargs))

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        # A full host takes no job: another host (or node) with a free slot does.
        while self.host.free_slots() <= 0 and not self._stop_requested:
            self.set_state(WorkerStatus.BUSY)
            self.procline(f"Full: {len(self.host)} engines")
            self.heartbeat()
            time.sleep(0.5)
        if self._stop_requested:
            return None  # RQ's loop ends on None: the teardown hands the engines over
        return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)

    def execute_job(self, job: Job, queue: Queue) -> None:
        if job.func_name != RUN_STRATEGY:
            super().execute_job(job, queue)  # not an engine (nothing else is queued here): run it in-process
            return
        execution = self.prepare_execution(job)
        self.prepare_job_execution(job, remove_from_intermediate_queue=len(self.queues) == 1)
        job.started_at = now()
        try:
            strategy_id = int(job.args[0])
        except (IndexError, TypeError, ValueError):  # a job queued by hand: it fails, the host goes on
            job.ended_at = now()
            self._finalize_failure(job, queue, execution, sys.exc_info())
        else:
            self.host.admit(strategy_id, job.id, (job, queue, execution))
        self.set_state(WorkerStatus.IDLE)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return JOB_TTL

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> Any:
        result = super().heartbeat(timeout, pipeline)
        self.node_heartbeat()
        return result

    def request_stop(self, signum: int, frame: Any) -> None:
        # Before RQ's own handling, which may raise StopRequested out of the dequeue: the round hands over.
        self.host.hand_over_all("worker shutting down")
        super().request_stop(signum, frame)

    def request_force_stop(self, signum: int, frame: Any) -> None:
        self._cold = True
        super().request_force_stop(signum, frame)

    def teardown(self) -> None:
        if not self.host.close(grace=0.0 if self._cold else HANDOVER_GRACE):
            log.warning("engine host: %s engines did not hand over in time; their leases lapse", len(self.host))
        super().teardown()

    # --- the jobs of the host's engines ------------------------------------------------------------------------------
    def _keep_jobs_alive(self, engines: list[HostedEngine]) -> None:
        """The heartbeat of every running job (and of the worker) in one pipeline, as a work-horse's monitor does."""
        with self.connection.pipeline() as pipe:
            self.heartbeat(JOB_TTL + 60, pipeline=pipe)
            for engine in engines:
                job, _queue, execution = engine.context
                execution.heartbeat(job.started_job_registry, JOB_TTL, pipeline=pipe)
                job.heartbeat(now(), JOB_TTL, pipeline=pipe, xx=True)
            pipe.execute()

    def _job_ended(self, engine: HostedEngine) -> None:
        job: Job
        queue: Queue
        execution: Execution
        job, queue, execution = engine.context
        job.ended_at = now()
        with self._job_lock:
            if engine.exc_info is not None:
                self._finalize_failure(job, queue, execution, engine.exc_info)
            else:
                self._finalize_success(job, queue, execution, str(engine.result))
