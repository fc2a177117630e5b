"""A rate limiter shared by every process through Redis: the sum of all workers stays under the exchange's limit.

CCXT's own limiter counts per process, but ten strategies on one account run in ten processes. Here each limit is
a bucket: a sliding-window log in Redis (a sorted set of grants scored by Redis server time, plus a running sum of
their weights). One Lua script checks and records all the buckets a request touches at once, so a grant is atomic
across processes and hosts, and the clock is Redis's, not each worker's. In any window of `window` seconds the
granted weight never exceeds `limit`; that also keeps every fixed window (Binance counts per calendar minute) under
it. When a bucket is full the caller sleeps until enough weight expires, up to `max_wait`, then RateLimitExceeded.

A ban (HTTP 418, or a 429 with Retry-After) is stored as `…:ban` holding the Redis time it ends; every acquire on
that scope waits for it, so one worker's ban stops them all.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from aresbot import metrics
from exchanges.base import RateLimitExceeded

_ACQUIRE = """
-- KEYS: ban key, then per bucket its log (zset) and its sum; ARGV: member prefix, then per bucket limit,
-- window (us), weight. Returns {granted 0|1, wait (us), now (us)}, and when granted each bucket's weight after it.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ban = tonumber(redis.call('GET', KEYS[1]) or '0')
if ban > now then return {0, ban - now, now} end
local n = (#KEYS - 1) / 2
local wait = 0
for i = 1, n do
  local log, sum = KEYS[2 * i], KEYS[2 * i + 1]
  local limit, window, weight = tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1])
  local expired = redis.call('ZRANGEBYSCORE', log, '-inf', now - window)
  if #expired > 0 then
    local gone = 0
    for _, member in ipairs(expired) do gone = gone + tonumber(string.match(member, ':(%d+)$')) end
    redis.call('ZREMRANGEBYSCORE', log, '-inf', now - window)
    redis.call('DECRBY', sum, gone)
  end
  local total = tonumber(redis.call('GET', sum) or '0')
  if redis.call('ZCARD', log) == 0 then total = 0 end
  if total + weight > limit then
    -- the oldest grants whose expiry frees enough room decide the wait
    local need, freed, start = total + weight - limit, 0, 0
    local until_free = window
    while freed < need do
      local batch = redis.call('ZRANGE', log, start, start + 99, 'WITHSCORES')
      if #batch == 0 then break end
      for j = 1, #batch, 2 do
        freed = freed + tonumber(string.match(batch[j], ':(%d+)$'))
        if freed >= need then until_free = tonumber(batch[j + 1]) + window - now; break end
      end
      start = start + 100
    end
    if until_free > wait then wait = until_free end
  end
end
if wait > 0 then return {0, wait, now} end
local granted = {1, 0, now}
for i = 1, n do
  local log, sum = KEYS[2 * i], KEYS[2 * i + 1]
  local window, weight = tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1])
  redis.call('ZADD', log, now, string.format('%s:%.0f:%d', ARGV[1], now, weight))
  granted[3 + i] = redis.call('INCRBY', sum, weight)
  local ttl = math.floor(window / 1000) + 1000
  redis.call('PEXPIRE', log, ttl)
  redis.call('PEXPIRE', sum, ttl)
end
return granted
"""

_BAN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ends = now + tonumber(ARGV[1])
if ends > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], ends, 'PX', math.floor(tonumber(ARGV[1]) / 1000) + 1000)
end
return ends
"""


@dataclass(frozen=True, slots=True)
class Bucket:
    """One limit: at most `limit` weight in any `window` seconds, counted under `key`."""

    key: str
    limit: int
    window: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window <= 0:
            raise ValueError(f"bucket {self.key}: limit must be at least 1 and window positive")


@dataclass(frozen=True, slots=True)
class Grant:
    at_us: int  # Redis server time of the grant, microseconds
    waited: float  # seconds slept before it


class SharedRateLimiter:
    """Blocks until every bucket of a request has room, then records the request in all of them at once."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        max_wait: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = client
        self.max_wait = max_wait
        self._sleep = sleep
        self._monotonic = monotonic
        self._acquire: Any = client.register_script(_ACQUIRE)
        self._ban: Any = client.register_script(_BAN)
        self._ids = itertools.count()
        self._prefix = f"{os.getpid()}.{random.getrandbits(32):08x}"  # unique, not secret

    def acquire(self, charges: Sequence[tuple[Bucket, int]], *, ban_key: str, max_wait: float | None = None) -> Grant:
        """Take `weight` from each bucket, waiting for room; RateLimitExceeded if that would take over `max_wait`."""
        budget = self.max_wait if max_wait is None else max_wait
        for bucket, weight in charges:
            if weight > bucket.limit:
                raise RateLimitExceeded(f"weight {weight} can never fit {bucket.key} (limit {bucket.limit})")
        keys = [ban_key]
        args: list[str | int] = [""]
        for bucket, weight in charges:
            keys += [bucket.key, f"{bucket.key}:sum"]
            args += [bucket.limit, int(bucket.window * 1_000_000), max(int(weight), 0)]
        started = self._monotonic()
        while True:
            args[0] = f"{self._prefix}.{next(self._ids)}"
            granted, wait_us, now_us, *used = self._acquire(keys=keys, args=args)
            waited = self._monotonic() - started
            if granted:
                metrics.rate_limit_granted(
                    [(bucket.key, int(after), bucket.limit) for (bucket, _), after in zip(charges, used, strict=True)],
                    waited,
                )
                return Grant(int(now_us), waited)
            wait = int(wait_us) / 1_000_000
            if waited + wait > budget:
                full = "a ban" if self._banned(ban_key, int(now_us)) else "the limit"
                raise RateLimitExceeded(
                    f"rate limit: {full} on {ban_key.removesuffix(':ban')} frees up in {wait:.1f} s, "
                    f"beyond the {budget:.0f} s this request may wait"
                )
            # A little jitter so processes that wait for the same expiry do not all wake at once.
            self._sleep(wait + random.uniform(0, 0.005))  # noqa: S311

    def ban(self, ban_key: str, seconds: float) -> None:
        """Make every acquire on this scope wait `seconds` (from Redis's clock), or longer if already banned."""
        self._ban(keys=[ban_key], args=[max(int(seconds * 1_000_000), 1)])

    def _banned(self, ban_key: str, now_us: int) -> bool:
        value = self.redis.get(ban_key)
        return value is not None and int(str(value)) > now_us
