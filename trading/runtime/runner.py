"""StrategyRunner: one strategy's engine inside an RQ job, under a Redis lease.

The runner owns everything around the engine's tick (ARCHITECTURE.md step 7): it takes the lease, renews it
every STRATEGY_STOP_POLL_INTERVAL from a pulse thread (so a tick blocked on a slow exchange does not look like a
dead node), polls the stop signal as often, writes the status hash (only while it holds the lease), and always
cleans up. Every order and cancel passes a fence that renews the
lease first, so a worker that has lost its strategy cannot send one more order.

Failure handling, by cause:
- lease lost (expired, broken by the supervisor, taken): stop at once, touch neither the exchange nor the hash;
  the supervisor starts a fresh job that rebuilds the engine from the database and reconciles;
- Redis unreachable: no orders while the lease cannot be confirmed (a send is refused as retryable, so the
  engine reconciles before trying again); after a whole lease TTL without confirmation, give up as above;
- database unreachable: the engine journals before it sends, so nothing goes out; reconnect and tick again;
- fatal exchange error (bad credentials, missing permission): the status says why, the lease is released and
  the supervisor backs off before trying again, instead of restarting in a tight loop.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from exchanges.base import Exchange, ExchangeError, FatalExchangeError, NetworkError, OrderRequest, OrderState
from trading.core.engine import TradingEngine
from trading.core.events import Event, EventKind, event
from trading.core.types import EngineState, EngineStatus
from trading.runtime import coordination as co
from trading.runtime.build import build_engine
from trading.runtime.clock import SYSTEM_CLOCK, RuntimeClock
from trading.runtime.spec import StrategySettings, StrategySource, StrategySpec, strategy_source

log = logging.getLogger(__name__)

# How often the runner reads the strategy row: to notice a stop the Redis signal missed, and edits.
DB_CHECK_SECONDS = 5.0
NODE_HEARTBEAT_SECONDS = 5.0
# A stopped event's `by` beside the strategies app's own values (owner, admin, system): the stop came with the
# strategy's deletion, or who stopped it cannot be read (the database away).
STOPPED_BY_SYSTEM = "system"
STOPPED_BY_UNKNOWN = "unknown"


# Set by SIGTERM in the work-horse (the worker is shutting down): engines hand their strategies over.
_handover = threading.Event()
# The worker that forked this work-horse; None outside a work-horse (`manage.py run_strategy`).
_worker_pid: int | None = None


def install_handover_signal() -> None:
    """In the work-horse: SIGTERM means "this worker is going away", not "stop the strategy"."""
    global _worker_pid
    _handover.clear()
    _worker_pid = os.getppid()
    signal.signal(signal.SIGTERM, lambda signum, frame: _handover.set())


def _handover_reason() -> str | None:
    if _handover.is_set():
        return "worker shutting down"
    # A work-horse sits in a process group of its own, so it outlives a worker killed with SIGKILL (or by the
    # kernel's OOM killer). Without a worker nobody would ever tell it to stop: it hands over, and the supervisor
    # starts the strategy on a worker that is there.
    if _worker_pid is not None and os.getppid() != _worker_pid:
        return "its worker process is gone"
    return None


class _Unknown:
    """The strategy row could not be read (database away)."""


UNKNOWN = _Unknown()


class RunOutcome(StrEnum):
    """How a run ended. The runner cleans up by it; the job's result (`rq info`, the admin) shows it."""

    STOPPED = "stopped"  # stop signal or desired state: buys cancelled, status removed, the signal consumed
    HANDED_OVER = "handed over"  # the worker is shutting down: orders stay, the next engine reconciles them
    LEASE_LOST = "lease lost"  # another job holds the strategy now: its signal and status are not ours to touch
    ERROR = "error"  # failed: the status says why, and the supervisor backs off before trying again
    GONE = "gone"  # the strategy was deleted
    NOT_STARTED = "not started"  # the strategy is stopped, or another job holds it


@dataclass(frozen=True)
class RunResult:
    outcome: RunOutcome
    detail: str = ""

    def __str__(self) -> str:
        """The job's return value: `stopped`, `lease lost: …`, `error: …`."""
        return f"{self.outcome}: {self.detail}" if self.detail else str(self.outcome)


class LeaseLost(Exception):
    """This job no longer holds the strategy's lease; nothing more may be sent for it."""


class FencedExchange:
    """The engine's exchange, with the lease renewed before every order or cancel (the fence)."""

    def __init__(self, inner: Exchange, fence: Callable[[], None]) -> None:
        self._inner = inner
        self._fence = fence

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def place_order(self, request: OrderRequest) -> OrderState:
        self._fence()
        return self._inner.place_order(request)

    def place_orders(self, requests: Sequence[OrderRequest]) -> list[OrderState | ExchangeError]:
        self._fence()
        return self._inner.place_orders(requests)

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        self._fence()
        return self._inner.cancel_order(symbol, client_order_id)


class LeasedStatusBoard:
    """Publishes each EngineStatus into `strategy:running:{id}`, fenced by the lease.

    `buffered`: a publish is only kept (`pending`), for the engine host to write with all its engines' statuses in
    one pipeline per round; the runner's own touches (running, stopping, error) are still written at once."""

    def __init__(self, lease: co.Lease, base: dict[str, str], ttl_seconds: float, *, buffered: bool = False) -> None:
        self.lease = lease
        self.base = base
        self.ttl_seconds = ttl_seconds
        self.buffered = buffered
        self.last: EngineStatus | None = None
        self.pending: dict[str, object] | None = None

    def publish(self, status: EngineStatus) -> None:
        self.last = status
        if self.buffered:
            self.pending = {**self.base, **status.redis_fields()}
            return
        try:
            self.lease.write_status({**self.base, **status.redis_fields()}, self.ttl_seconds)
        except redis.RedisError as exc:  # a status write is never worth failing a tick over
            log.warning("strategy %s: status not written: %s", status.strategy_id, exc)

    def touch(self, **fields: object) -> bool:
        return self.lease.write_status({**self.base, **fields}, self.ttl_seconds)


class StrategyRunner:
    def __init__(
        self,
        strategy_id: int,
        holder: str,
        *,
        client: redis.Redis,
        source: StrategySource | None = None,
        clock: RuntimeClock = SYSTEM_CLOCK,
        lock_ttl: float | None = None,
        poll_interval: float | None = None,
        stale_after: float | None = None,
        worker_ip: str = "",
        handover: Callable[[], str | None] | None = None,
        hosted: bool = False,
    ) -> None:
        """`hosted`: driven by an engine host (trading/runtime/host.py), which renews the lease, reads the stop
        signal, writes the published status and keeps the node's heartbeat for all its engines at once, and asks
        `handover` whether the strategy should move. Otherwise `run()` does all of that for this one engine."""
        self.strategy_id = strategy_id
        self.holder = holder
        self.client = client
        self.source = source or strategy_source()
        self.clock = clock
        self.lock_ttl = float(lock_ttl or settings.STRATEGY_LOCK_TTL)
        self.poll = float(poll_interval or settings.STRATEGY_STOP_POLL_INTERVAL)
        self.stale_after = float(stale_after or settings.STRATEGY_STALE_AFTER)
        # The hash outlives a few missed writes, never a dead node for long.
        self.status_ttl = max(3 * self.lock_ttl, 3 * self.stale_after)
        self.lease = co.Lease(client, strategy_id, holder, self.lock_ttl, self.status_ttl, clock=clock)
        self.ip, self.hostname = co.node_identity(worker_ip or settings.WORKER_IP)
        self._last_renew = 0.0
        self._last_heartbeat = 0.0
        self._lost = threading.Event()
        self._progress = clock.monotonic()
        self.hang_after = 120.0
        self.hosted = hosted
        self.handover_reason = handover or _handover_reason
        self.board: LeasedStatusBoard | None = None
        self.spec: StrategySpec | None = None
        self.engine: TradingEngine | None = None
        self._previous: dict[str, str] = {}
        self.interval = 1.0
        self.next_tick = 0.0
        self.next_db_check = 0.0
        self._edited_at: datetime | None = None
        self.failed_over_from: dict[str, str] | None = None  # the run that died before this one, if one did

    # --- the fence and the pulse -------------------------------------------------------------------------------------
    def fence(self) -> None:
        """Renew the lease now; raise unless this job still holds it. Called before every order and cancel.

        Redis unreachable: the send is refused as a retryable error, so the engine reconciles before it tries
        again; it never sends while the lease cannot be confirmed.
        """
        try:
            held = self.lease.renew()
        except redis.RedisError as exc:
            raise NetworkError(f"not sent: the strategy's lease cannot be confirmed (Redis: {exc})") from exc
        if not held:
            self._lost.set()
            raise LeaseLost("lease expired or taken by another job")
        self._last_renew = self.clock.monotonic()

    def _pulse(self, done: threading.Event) -> None:
        """Renew the lease (and with it the status pulse) every poll, also while a tick blocks on a slow exchange.

        Without it a tick slower than STRATEGY_STALE_AFTER would look like a dead node to the supervisor. An
        engine thread that makes no progress at all for `hang_after` is taken to be hung: the pulse stops, the
        lease lapses, and another worker takes over (the fence keeps the hung one from sending).
        """
        while not self.clock.wait(done, self.poll):
            if not self._beat():
                return

    def _beat(self) -> bool:
        """One beat of the pulse; False when the pulse ends (the engine is hung, or the lease is lost)."""
        if self.clock.monotonic() - self._progress > self.hang_after:
            log.error(
                "strategy %s: engine made no progress for %.0f s; letting the lease lapse",
                self.strategy_id,
                self.hang_after,
            )
            return False
        try:
            if not self.lease.renew():
                self._lost.set()
                return False
            self._last_renew = self.clock.monotonic()
        except redis.RedisError:
            pass  # the engine's thread decides what lasting Redis trouble means (check_lease)
        return True

    def renewed(self, held: bool) -> None:
        """The host's pipelined renew answered for this lease (as a beat of the pulse would have)."""
        if held:
            self._last_renew = self.clock.monotonic()
        else:
            self._lost.set()

    def unconfirmed_too_long(self) -> bool:
        """The lease is lost, or Redis could not confirm it for a whole TTL: the next step ends the run."""
        return self._lost.is_set() or self.clock.monotonic() - self._last_renew > self.lock_ttl

    def check_lease(self) -> None:
        """Between ticks: raise LeaseLost when the pulse lost the lease, or could not confirm it for a whole TTL."""
        if self._lost.is_set():
            raise LeaseLost("lease expired or taken by another job")
        if self.clock.monotonic() - self._last_renew > self.lock_ttl:
            raise LeaseLost("Redis unreachable for longer than the lease")

    # --- the run, as steps: begin, open, step … step, release (run() drives them for one engine; a host for many) ---
    def run(self) -> RunResult:
        early = self.begin()
        if early is not None:
            return early
        result = RunResult(RunOutcome.STOPPED)
        done = threading.Event()
        threading.Thread(target=self._pulse, args=(done,), name=f"pulse-{self.strategy_id}", daemon=True).start()
        try:
            result = self.open() or self._loop()
        except Exception as exc:
            result = self.ended_by(exc)
            if not isinstance(exc, LeaseLost | FatalExchangeError):
                raise
        finally:
            done.set()
            self._release(result)
        return result

    def begin(self) -> RunResult | None:
        """Take the lease; a result when the run ends here (the strategy is gone, stopped, or held by another job)."""
        current = self.source.settings(self.strategy_id)
        if current is None:
            return RunResult(RunOutcome.GONE, "the strategy was deleted")
        if not current.running:
            return RunResult(RunOutcome.NOT_STARTED, "the strategy is stopped")
        if not self.lease.acquire():
            return RunResult(RunOutcome.NOT_STARTED, f"held by {self.lease.holder_now()}")
        self._last_renew = self._progress = self.clock.monotonic()
        self._previous = self._previous_run()
        co.clear_enqueued(self.client, self.strategy_id)
        self.board = LeasedStatusBoard(
            self.lease,
            {
                "task_id": self.holder,
                "worker_ip": self.ip,
                "worker_hostname": self.hostname,
                "started_at": f"{self.clock.time():.3f}",
            },
            self.status_ttl,
            buffered=self.hosted,
        )
        return None

    def open(self) -> RunResult | None:
        """Build and start the engine (under the lease); a result when the strategy was deleted meanwhile."""
        assert self.board is not None
        # The account is read here, after the lease: credentials that cannot be decrypted (a missing key) are a
        # failure shown in the status and backed off from, like an exchange refusing them.
        spec = self.source.load(self.strategy_id)
        if spec is None:
            return RunResult(RunOutcome.GONE, "the strategy was deleted")
        self.spec = spec
        self.board.touch(status=EngineState.RUNNING, last_error="")
        engine = self.engine = build_engine(
            spec, status_board=self.board, wrap_exchange=lambda inner: FencedExchange(inner, self.fence)
        )
        # Recorded before the engine's first tick, whose events (the ladder placed, a fill found by reconcile, a
        # balance gap) follow it on the timeline; a start that fails shows as started, then the error.
        self._record(self._start_events(self._previous))
        engine.start()
        try:
            co.clear_failures(self.client, self.strategy_id)
        except redis.RedisError:
            pass  # a failure count left over only lengthens a later backoff; check_lease judges Redis trouble
        log.info("strategy %s: %s engine started on %s (%s)", self.strategy_id, spec.symbol, self.hostname, self.ip)
        self.interval = float(spec.config.loop_interval)
        self.hang_after = max(120.0, 10 * self.interval)
        self._progress = now = self.clock.monotonic()
        self.next_tick = now + self.interval
        self.next_db_check = now + DB_CHECK_SECONDS
        self._edited_at = spec.version
        return None

    def _loop(self) -> RunResult:
        while True:
            result = self.step(self._stop_signal())
            if result is not None:
                return result
            self.clock.sleep(max(0.0, min(self.poll, self.next_tick - self.clock.monotonic())))

    def due(self, stop: co.StopMode | None) -> bool:
        """Whether a step now would do anything (a host steps only the engines that have something to do)."""
        now = self.clock.monotonic()
        return bool(
            stop
            or now >= self.next_tick
            or now >= self.next_db_check
            or self.handover_reason()
            or self.unconfirmed_too_long()
        )

    def step(self, stop: co.StopMode | None) -> RunResult | None:
        """One pass of the run: the database check, a handover or a stop, the tick when it is due, the lease check.
        `stop` is the stop signal as just read. A result when the run ends."""
        engine = self.engine
        assert engine is not None
        self._progress = now = self.clock.monotonic()
        row: StrategySettings | _Unknown | None = UNKNOWN
        if now >= self.next_db_check:
            self.next_db_check = now + DB_CHECK_SECONDS
            row = self._read_settings()
            if isinstance(row, _Unknown):
                pass  # the database is away: keep the current settings, the stop signal still works
            elif row is None:
                stop = stop or co.StopMode.CANCEL_BUYS
            elif not row.running:
                # The stop as recorded with desired_state: the signal may never have reached Redis.
                stop = stop or (co.StopMode.CANCEL_ALL if row.cancel_all_on_stop else co.StopMode.CANCEL_BUYS)
            elif row.version != self._edited_at:
                self._edited_at = row.version
                engine.reconfigure(row.config)
                self.interval = float(row.config.loop_interval)
        handover = self.handover_reason()
        if handover:
            # Not a stop: the strategy should keep running, elsewhere. Orders stay as they are; the next
            # engine reconciles them. Releasing the lease now lets the supervisor move it at once.
            log.info("strategy %s: %s, handing the strategy over", self.strategy_id, handover)
            self._record([self._event(EventKind.HANDED_OVER, node=self.hostname, reason=handover)])
            return RunResult(RunOutcome.HANDED_OVER, handover)
        if stop:
            assert self.board is not None
            self.board.touch(status=EngineState.STOPPING)
            cancel_all = stop is co.StopMode.CANCEL_ALL
            engine.stop(cancel_all=cancel_all)
            cancelled = "every open order" if cancel_all else "its open buys"
            log.info("strategy %s: stopped, %s cancelled", self.strategy_id, cancelled)
            cancel_mode = "all" if cancel_all else "buys"
            by = self._stopped_by(row)
            self._record([self._event(EventKind.STOPPED, by=by, cancel_mode=cancel_mode, node=self.hostname)])
            return RunResult(RunOutcome.STOPPED)
        if now >= self.next_tick:
            self.next_tick = max(self.next_tick + self.interval, now)  # a slow tick delays the next, never a burst
            self._tick(engine)
        self.check_lease()
        if not self.hosted:
            self._heartbeat()
        return None

    def ended_by(self, exc: BaseException) -> RunResult:
        """The result of a run that `exc` ended (after begin): the status and the backoff say why."""
        if isinstance(exc, LeaseLost):
            log.warning("strategy %s: %s; this job stops without touching the exchange", self.strategy_id, exc)
            # Not "stopped": the stop signal and the status hash may already belong to the new holder.
            return RunResult(RunOutcome.LEASE_LOST, str(exc))
        self._ended_on_error()
        if isinstance(exc, FatalExchangeError):
            retry = self._record_failure(str(exc))
            self._safe_touch(status=EngineState.ERROR, last_error=f"fatal: {exc}")
            log.error("strategy %s: %s; %s", self.strategy_id, exc, retry)
            return RunResult(RunOutcome.ERROR, str(exc))
        error = f"{type(exc).__name__}: {exc}"
        retry = self._record_failure(error)
        self._safe_touch(status=EngineState.ERROR, last_error=error)
        # One line here; the traceback is the job's (RQ logs it with the failed job, or the command prints it).
        log.error("strategy %s: engine failed: %s; %s", self.strategy_id, error, retry)
        return RunResult(RunOutcome.ERROR, error)

    def end(self, result: RunResult) -> tuple[bool, bool]:
        """How a host releases this run in its pipeline (coordination.end_runs): (delete the status hash, consume
        the stop signal), as _release does for one."""
        return result.outcome in (RunOutcome.STOPPED, RunOutcome.HANDED_OVER), result.outcome is RunOutcome.STOPPED

    # --- the runtime's events ----------------------------------------------------------------------------------------
    def _previous_run(self) -> dict[str, str]:
        """The status hash a previous run left behind, read before this run overwrites it. A run that ended cleanly
        (stopped, handed over) deletes it; one still marked running or stopping under another job died."""
        try:
            return co.read_status(self.client, self.strategy_id)
        except redis.RedisError:
            return {}

    def _start_events(self, previous: dict[str, str]) -> list[Event]:
        events = [self._event(EventKind.STARTED, node=self.hostname, ip=self.ip, job=self.holder)]
        dead = self.failed_over_from = self._dead_run(previous)
        if dead is not None:
            try:
                gap: float | None = round(self.clock.time() - float(previous.get("updated_at", "")), 3)
            except ValueError:
                gap = None  # no sign of life is left (the hash expired): the web app and messages say "unknown"
            failed_over = self._event(EventKind.FAILED_OVER, **dead, to_node=self.hostname, to_ip=self.ip)
            events.append(replace(failed_over, data={**failed_over.data, "gap_seconds": gap}))
        return events

    def _dead_run(self, previous: dict[str, str]) -> dict[str, str] | None:
        """The node, address and job of a previous run that died (no clean end), or None.

        The status hash it left says so while it lasts. Once it has expired (every node down for longer than its
        TTL, or Redis restarted empty) the database still does: the strategy's latest run event is a start by
        another job with no stop or handover after it, and no note that it ended on an error (a run that failed
        fatally is retried after a backoff; that is no failover).
        """
        if previous.get("status"):
            if previous["status"] in (EngineState.RUNNING, EngineState.STOPPING) and previous.get("task_id") not in (
                None,
                self.holder,
            ):
                return {
                    "from_node": previous.get("worker_hostname", ""),
                    "from_ip": previous.get("worker_ip", ""),
                    "from_job": previous.get("task_id", ""),
                }
            return None
        try:
            last = self.source.last_run_event(self.strategy_id)
        except DatabaseError as exc:
            log.warning("strategy %s: last run not read: %s", self.strategy_id, exc)
            return None
        if last is None or last.kind != EventKind.STARTED or last.data.get("ended"):
            return None
        if last.data.get("job") in (None, "", self.holder):
            return None
        return {
            "from_node": str(last.data.get("node", "")),
            "from_ip": str(last.data.get("ip", "")),
            "from_job": str(last.data["job"]),
        }

    def _ended_on_error(self) -> None:
        try:
            self.source.run_ended_on_error(self.strategy_id, self.holder)
        except DatabaseError as exc:
            # The next start may then call the restart a failover: a wrong word, never a wrong action.
            log.warning("strategy %s: failed run not noted: %s", self.strategy_id, exc)

    def _stopped_by(self, row: StrategySettings | _Unknown | None) -> str:
        """Who stopped the strategy, for its stopped event. The Redis signal usually arrives before the next database
        check, so the row is read once more unless this pass just read it."""
        if isinstance(row, _Unknown):
            row = self._read_settings()
        if row is None:
            return STOPPED_BY_SYSTEM  # deleted: nobody's stop, the strategy is gone
        if isinstance(row, _Unknown) or not row.stopped_by:
            return STOPPED_BY_UNKNOWN  # the database is away (or a stop recorded before stopped_by existed)
        return row.stopped_by

    def _event(self, kind: EventKind, **data: Any) -> Event:
        return event(kind, datetime.fromtimestamp(self.clock.time(), UTC), **data)

    def _record(self, events: list[Event]) -> None:
        """The runtime's events change no trading state: one that cannot be written (the database away) is logged,
        never worth failing the run over."""
        try:
            self.source.record_events(self.strategy_id, events)
        except DatabaseError as exc:
            log.warning("strategy %s: events %s not written: %s", self.strategy_id, [str(e.kind) for e in events], exc)

    def _stop_signal(self) -> co.StopMode | None:
        try:
            return co.stop_requested(self.client, self.strategy_id)
        except redis.RedisError:
            return None  # Redis away: no signal to read; the database check still sees a stop

    def _tick(self, engine: TradingEngine) -> None:
        try:
            engine.tick()
        except DatabaseError as exc:
            # Nothing was sent for a write that failed (write-ahead); reconnect and let the next tick reconcile.
            log.warning("strategy %s: database error, reconnecting: %s", self.strategy_id, exc)
            connection.close()
            close_old_connections()

    def _read_settings(self) -> StrategySettings | _Unknown | None:
        try:
            return self.source.settings(self.strategy_id)
        except DatabaseError as exc:
            log.warning("strategy %s: database unreachable: %s", self.strategy_id, exc)
            connection.close()
            return UNKNOWN

    def _heartbeat(self) -> None:
        now = self.clock.monotonic()
        if now - self._last_heartbeat >= NODE_HEARTBEAT_SECONDS:
            self._last_heartbeat = now
            try:
                co.heartbeat(self.client, self.ip, self.hostname, ttl_seconds=3 * NODE_HEARTBEAT_SECONDS)
            except redis.RedisError:
                pass  # check_lease decides what lasting Redis trouble means

    def _record_failure(self, error: str) -> str:
        """Start the supervisor's backoff for a failed run; when it is tried again, for the log line."""
        # Redis away as well must not replace the error that ended the run (the job's result and log name that one).
        try:
            return f"retrying in {co.record_failure(self.client, self.strategy_id, error)} s"
        except redis.RedisError as exc:
            log.warning("strategy %s: failure not recorded for the backoff: %s", self.strategy_id, exc)
            return "retrying once Redis answers"

    def _safe_touch(self, **fields: object) -> None:
        if self.board is None:
            return
        try:
            self.board.touch(**fields)
        except redis.RedisError:
            pass

    def _release(self, result: RunResult) -> None:
        try:
            # Only the holder may remove its status (checked in the script): a cleanly ended run shows no stale hash.
            co.end_runs(self.client, [(self.lease, *self.end(result))])
        except redis.RedisError as exc:
            log.warning("strategy %s: lease not released (it will expire): %s", self.strategy_id, exc)
