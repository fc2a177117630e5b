"""Redis coordination between web, scheduler and workers: leases, status hashes, live workers, stop signals.

The key names and hash fields are a contract that operators check with `redis-cli`:

- `strategy:lock:{id}` = the RQ job id holding the strategy, set NX with a TTL (`STRATEGY_LOCK_TTL`) that the
  engine renews every tick. Renew and release are compare-and-set Lua scripts, so only the holder can extend or
  delete its lease; a worker whose renew fails has lost the strategy and must stop placing orders at once.
- `strategy:running:{id}` hash: task_id, worker_ip, worker_hostname, status (running|stopping|error), started_at,
  current_price, pending_buys, pending_sells, position_count, last_error, skipped_levels, paused, notes (the last
  three JSON lists of reasons: grid levels not placed, why buys pause, other things to see), updated_at. It carries
  a TTL of a few leases, refreshed with every write, so a node that dies without cleaning up stops being reported
  as running.
- `strategy:stop:{id}`: the stop signal, raised by the API and polled by the engine ("1", or "all" to cancel
  the take-profits too).
- `strategy:enqueued:{id}`: a run job is queued and not yet started (so the supervisor does not queue another);
  `strategy:backoff:{id}` (the last fatal error, with a TTL that doubles per failure) and
  `strategy:failures:{id}` (the count): a strategy that keeps failing is retried later, not in a tight loop.
- `workers:active` set of worker node IPs, with a `worker:heartbeat:{ip}` key per node (TTL) whose expiry drops
  the node from the set at the next prune; `workers:seen` hash: ip → epoch seconds of its last heartbeat (how long
  ago a node last reported, for the workers view).
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any, cast

import redis

from trading.core.types import EngineState
from trading.runtime.clock import SYSTEM_CLOCK, RuntimeClock


class StopMode(StrEnum):
    """The value of the stop signal `strategy:stop:{id}`: what a stopping engine cancels."""

    CANCEL_BUYS = "1"  # the resting grid buys; lots keep their take-profits
    CANCEL_ALL = "all"  # the take-profits too (the lots stay held)


LOCK_KEY = "strategy:lock:{id}"
RUNNING_KEY = "strategy:running:{id}"
STOP_KEY = "strategy:stop:{id}"
ENQUEUED_KEY = "strategy:enqueued:{id}"
BACKOFF_KEY = "strategy:backoff:{id}"
FAILURES_KEY = "strategy:failures:{id}"
WORKERS_KEY = "workers:active"
HEARTBEAT_KEY = "worker:heartbeat:{ip}"
WORKERS_SEEN_KEY = "workers:seen"

STATUS_FIELDS = (
    "task_id",
    "worker_ip",
    "worker_hostname",
    "status",
    "started_at",
    "current_price",
    "pending_buys",
    "pending_sells",
    "position_count",
    "last_error",
    "skipped_levels",
    "paused",
    "notes",
    "updated_at",
)

# KEYS[1] lock key, KEYS[2] status hash; ARGV[1] holder, ARGV[2] lease ttl ms, ARGV[3] now, ARGV[4] hash ttl s.
# 1 when the holder still owns the lease (and it was extended). The hash's updated_at doubles as the holder's
# pulse, which the supervisor reads to tell a slow strategy (long loop_interval) from a dead node.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  if redis.call('EXISTS', KEYS[2]) == 1 then
    redis.call('HSET', KEYS[2], 'updated_at', ARGV[3])
    redis.call('EXPIRE', KEYS[2], ARGV[4])
  end
  return 1
end
return 0
"""
# KEYS[1] lock key; ARGV[1] holder. Deletes only the caller's own lease.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def node_identity(ip_override: str = "") -> tuple[str, str]:
    """(ip, hostname) of this node, as the status hash and `workers:active` show it.

    WORKER_IP (the override) wins: behind Docker's NAT only the operator knows the address other nodes see.
    Otherwise the address the hostname resolves to, which in a container is the container's own.
    """
    hostname = socket.gethostname()
    if ip_override:
        return ip_override, hostname
    try:
        ip = socket.gethostbyname(hostname)
    except OSError:
        ip = "127.0.0.1"
    return ip, hostname


# KEYS[1] lock key, KEYS[2] status hash; ARGV[1] holder, ARGV[2] hash ttl s, then field, value, field, value …
# The status is written only while the writer holds the lease: an engine that lost its strategy to another
# worker must not overwrite the new holder's status with its own last words.
_WRITE_STATUS = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""

# KEYS[1] lock key, KEYS[2] status hash; ARGV[1] the holder whose stale lease may be broken, ARGV[2] the status.
_BREAK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'status', ARGV[2], 'last_error', 'worker stopped responding; lease broken')
  return 1
end
return 0
"""


class Lease:
    """A strategy's lease in Redis, held by one job id at a time."""

    def __init__(
        self,
        client: redis.Redis,
        strategy_id: int,
        holder: str,
        ttl_seconds: float,
        status_ttl: float = 0,
        *,
        clock: RuntimeClock = SYSTEM_CLOCK,
    ) -> None:
        self.client = client
        self.clock = clock
        self.key = LOCK_KEY.format(id=strategy_id)
        self.status_key = RUNNING_KEY.format(id=strategy_id)
        self.holder = holder
        self.ttl_ms = max(1, int(ttl_seconds * 1000))
        self.status_ttl = max(1, int(status_ttl or 3 * ttl_seconds))
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._write_status = client.register_script(_WRITE_STATUS)
        self._end = client.register_script(_END)
        self.strategy_id = strategy_id

    def acquire(self) -> bool:
        return bool(self.client.set(self.key, self.holder, nx=True, px=self.ttl_ms))

    def renew(self, pipeline: Any = None) -> bool:
        """False means the lease expired or was taken: the caller no longer owns the strategy. With a pipeline the
        renew is queued in it instead (renew_many), and its answer comes with the pipeline's."""
        args: list[str | int] = [self.holder, self.ttl_ms, f"{self.clock.time():.3f}", self.status_ttl]
        return bool(self._renew(keys=[self.key, self.status_key], args=args, client=pipeline))

    def release(self) -> bool:
        return bool(self._release(keys=[self.key], args=[self.holder]))

    def holder_now(self) -> str | None:
        return cast("str | None", self.client.get(self.key))

    def write_status(self, fields: Mapping[str, object], ttl_seconds: float, pipeline: Any = None) -> bool:
        """Write the strategy's status hash if (and only if) this lease is still held; False when it is not. With a
        pipeline the write is queued in it (write_statuses)."""
        values = {k: "" if v is None else str(v) for k, v in fields.items()}
        values["updated_at"] = f"{self.clock.time():.3f}"
        flat: list[str | int | float] = [self.holder, str(max(1, int(ttl_seconds)))]
        for key, value in values.items():
            flat.extend((key, value))
        keys = [self.key, RUNNING_KEY.format(id=self.strategy_id)]
        return bool(self._write_status(keys=keys, args=flat, client=pipeline))

    def end(self, pipeline: Any, *, delete_status: bool, clear_stop: bool) -> None:
        """Queue this run's clean-up in `pipeline` (end_runs): the status hash removed when the run ended cleanly
        and the lease is still this holder's, the stop signal consumed by a stop, the lease released."""
        keys = [self.key, self.status_key, STOP_KEY.format(id=self.strategy_id)]
        args: list[str | int] = [self.holder, int(delete_status), int(clear_stop)]
        self._end(keys=keys, args=args, client=pipeline)


# KEYS[1] lock key, KEYS[2] status hash, KEYS[3] stop signal; ARGV[1] holder, ARGV[2] 1: delete the status hash
# (a clean end), ARGV[3] 1: consume the stop signal. The release of StrategyRunner, as one script for a pipeline.
_END = """
if ARGV[3] == '1' then
  redis.call('DEL', KEYS[3])
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  if ARGV[2] == '1' then
    redis.call('DEL', KEYS[2])
  end
  return redis.call('DEL', KEYS[1])
end
return 0
"""


# --- many leases in one round trip (the engine host, trading/runtime/host.py) --------------------------------------
def renew_many(client: redis.Redis, leases: Sequence[Lease]) -> list[bool]:
    """Renew every lease in one pipeline (EVALSHA of the compare-and-set per lease); True where it is still held."""
    if not leases:
        return []
    pipe = client.pipeline(transaction=False)
    for lease in leases:
        lease.renew(pipeline=pipe)
    return [bool(answer) for answer in pipe.execute()]


def stop_signals(client: redis.Redis, strategy_ids: Sequence[int]) -> list[StopMode | None]:
    """The stop signals of many strategies in one command (None where none is raised)."""
    if not strategy_ids:
        return []
    values = cast("list[Any]", client.mget([STOP_KEY.format(id=sid) for sid in strategy_ids]))
    return [_stop_mode(value) for value in values]


def write_statuses(client: redis.Redis, writes: Sequence[tuple[Lease, Mapping[str, object], float]]) -> list[bool]:
    """Write many status hashes in one pipeline, each only while its lease is held (as Lease.write_status)."""
    if not writes:
        return []
    pipe = client.pipeline(transaction=False)
    for lease, fields, ttl in writes:
        lease.write_status(fields, ttl, pipeline=pipe)
    return [bool(answer) for answer in pipe.execute()]


def end_runs(client: redis.Redis, ends: Sequence[tuple[Lease, bool, bool]]) -> None:
    """Release many leases in one pipeline: (lease, delete its status hash, consume its stop signal) each."""
    if not ends:
        return
    pipe = client.pipeline(transaction=False)
    for lease, delete_status, clear_stop in ends:
        lease.end(pipe, delete_status=delete_status, clear_stop=clear_stop)
    pipe.execute()


def break_stale_lease(client: redis.Redis, strategy_id: int, holder: str) -> bool:
    """Delete `holder`'s lease (only if it is still theirs) after it stopped updating its status."""
    script = client.register_script(_BREAK)
    keys = [LOCK_KEY.format(id=strategy_id), RUNNING_KEY.format(id=strategy_id)]
    return bool(script(keys=keys, args=[holder, EngineState.ERROR.value]))


def delete_status(client: redis.Redis, strategy_id: int) -> None:
    client.delete(RUNNING_KEY.format(id=strategy_id))


def read_status(client: redis.Redis, strategy_id: int) -> dict[str, str]:
    return cast("dict[str, str]", client.hgetall(RUNNING_KEY.format(id=strategy_id)))


# KEYS: status hashes. One command for all of them: a pipeline of N HGETALLs costs N command round-trips of
# client-side packing and parsing, which dominated the running list's time.
_READ_MANY = """
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('HGETALL', key)
end
return out
"""


def read_statuses(client: redis.Redis, strategy_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """The hashes of many strategies in one round trip, for the running list and the workers view."""
    ids = list(strategy_ids)
    if not ids:
        return {}
    script = client.register_script(_READ_MANY)
    replies = cast("list[list[str]]", script(keys=[RUNNING_KEY.format(id=sid) for sid in ids]))
    statuses: dict[int, dict[str, str]] = {}
    for sid, flat in zip(ids, replies, strict=True):
        if flat:
            statuses[sid] = dict(zip(flat[::2], flat[1::2], strict=True))
    return statuses


def leased_ids(client: redis.Redis, strategy_ids: Iterable[int]) -> set[int]:
    """Which of the strategies an engine (or a stop job) holds now, in one round trip."""
    ids = list(strategy_ids)
    if not ids:
        return set()
    holders = cast("list[Any]", client.mget([LOCK_KEY.format(id=sid) for sid in ids]))
    return {sid for sid, holder in zip(ids, holders, strict=True) if holder is not None}


def running_strategy_ids(client: redis.Redis) -> list[int]:
    """Ids with a status hash, found with SCAN (never KEYS, which blocks Redis on a large keyspace)."""
    prefix = RUNNING_KEY.format(id="")
    ids = []
    for key in client.scan_iter(match=prefix + "*", count=500):
        suffix = str(key)[len(prefix) :]
        if suffix.isdigit():
            ids.append(int(suffix))
    return sorted(ids)


def raise_stop(client: redis.Redis, strategy_id: int, ttl_seconds: float, *, cancel_all: bool = False) -> None:
    # The TTL bounds a signal nobody consumed (the engine had already died): it cannot stop a later start.
    mode = StopMode.CANCEL_ALL if cancel_all else StopMode.CANCEL_BUYS
    client.set(STOP_KEY.format(id=strategy_id), mode.value, ex=max(1, int(ttl_seconds)))


def stop_requested(client: redis.Redis, strategy_id: int) -> StopMode | None:
    """None, or the raised signal. An unknown value (written by hand) stops and cancels the buys only."""
    return _stop_mode(client.get(STOP_KEY.format(id=strategy_id)))


def _stop_mode(value: Any) -> StopMode | None:
    if value is None:
        return None
    text = value.decode() if isinstance(value, bytes) else str(value)
    return StopMode.CANCEL_ALL if text == StopMode.CANCEL_ALL else StopMode.CANCEL_BUYS


def clear_stop(client: redis.Redis, strategy_id: int) -> None:
    client.delete(STOP_KEY.format(id=strategy_id))


def heartbeat(
    client: redis.Redis, ip: str, hostname: str, ttl_seconds: float, clock: RuntimeClock = SYSTEM_CLOCK
) -> None:
    pipe = client.pipeline(transaction=True)
    pipe.sadd(WORKERS_KEY, ip)
    pipe.set(HEARTBEAT_KEY.format(ip=ip), hostname, ex=max(1, int(ttl_seconds)))
    pipe.hset(WORKERS_SEEN_KEY, ip, f"{clock.time():.3f}")
    pipe.execute()


def prune_workers(client: redis.Redis) -> list[str]:
    """Drop nodes whose heartbeat expired from `workers:active`; returns the nodes still alive."""
    ips = sorted(cast("set[str]", client.smembers(WORKERS_KEY)))
    if not ips:
        return []
    pipe = client.pipeline(transaction=False)
    for ip in ips:
        pipe.exists(HEARTBEAT_KEY.format(ip=ip))
    alive_flags = pipe.execute()
    dead = [ip for ip, alive in zip(ips, alive_flags, strict=True) if not alive]
    if dead:
        client.srem(WORKERS_KEY, *dead)
        client.hdel(WORKERS_SEEN_KEY, *dead)
    return [ip for ip, alive in zip(ips, alive_flags, strict=True) if alive]


def active_workers(client: redis.Redis) -> dict[str, str]:
    """ip → hostname of every node with a live heartbeat."""
    ips = prune_workers(client)
    if not ips:
        return {}
    hostnames: list[Any] = cast("list[Any]", client.mget([HEARTBEAT_KEY.format(ip=ip) for ip in ips]))
    return {ip: str(h or "") for ip, h in zip(ips, hostnames, strict=True) if h is not None}


def last_heartbeats(client: redis.Redis, ips: Iterable[str]) -> dict[str, str]:
    """ip → epoch seconds of each node's last heartbeat (nodes that never wrote one, before this field, left out)."""
    wanted = list(ips)
    if not wanted:
        return {}
    seen = cast("list[Any]", client.hmget(WORKERS_SEEN_KEY, wanted))
    return {ip: str(at) for ip, at in zip(wanted, seen, strict=True) if at is not None}


def mark_enqueued(client: redis.Redis, strategy_id: int, ttl_seconds: float) -> bool:
    """True when no run job was already marked as queued; the mark expires in case the job never starts."""
    return bool(client.set(ENQUEUED_KEY.format(id=strategy_id), "1", nx=True, ex=max(1, int(ttl_seconds))))


def clear_enqueued(client: redis.Redis, strategy_id: int) -> None:
    client.delete(ENQUEUED_KEY.format(id=strategy_id))


BACKOFF_BASE_SECONDS = 15
BACKOFF_MAX_SECONDS = 3600


def record_failure(client: redis.Redis, strategy_id: int, error: str) -> int:
    """Count a failed run and start its backoff: 15 s, 30 s, 60 s … up to an hour. Returns the backoff."""
    failures = int(client.incr(FAILURES_KEY.format(id=strategy_id)))
    client.expire(FAILURES_KEY.format(id=strategy_id), 24 * 3600)
    backoff = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** min(failures - 1, 12))
    client.set(BACKOFF_KEY.format(id=strategy_id), error[:500], ex=backoff)
    return backoff


def clear_failures(client: redis.Redis, strategy_id: int) -> None:
    client.delete(FAILURES_KEY.format(id=strategy_id), BACKOFF_KEY.format(id=strategy_id))


def backoff_errors(client: redis.Redis, strategy_ids: Iterable[int]) -> dict[int, str]:
    """backoff_error of many strategies in one round trip (the dashboard); only those waiting for a retry."""
    ids = list(strategy_ids)
    if not ids:
        return {}
    values = cast("list[Any]", client.mget([BACKOFF_KEY.format(id=sid) for sid in ids]))
    return {
        sid: value.decode() if isinstance(value, bytes) else str(value)
        for sid, value in zip(ids, values, strict=True)
        if value is not None
    }


def backoff_error(client: redis.Redis, strategy_id: int) -> str | None:
    value = client.get(BACKOFF_KEY.format(id=strategy_id))
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
