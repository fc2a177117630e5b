"""The Redis client factories, so every process connects with the same URL, password and timeouts."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.retry import Retry
from rq import Queue

from aresbot import metrics


class TimedRedis(redis.Redis):
    """A client that records each command's latency (aresbot_redis_command_duration_seconds), by command name."""

    def execute_command(self, *args: Any, **options: Any) -> Any:
        started = time.perf_counter()
        try:
            return super().execute_command(*args, **options)
        finally:
            name = args[0] if args and isinstance(args[0], str) else metrics.OTHER
            metrics.redis_command_done(name, time.perf_counter() - started)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        return TimedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)


class TimedPipeline(Pipeline):
    """A pipeline is one round trip, so one observation: the runtime's per-round pipelines show as PIPELINE."""

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        started = time.perf_counter()
        try:
            return super().execute(raise_on_error)
        finally:
            metrics.redis_command_done("PIPELINE", time.perf_counter() - started)


def _client(*, decode: bool) -> redis.Redis:
    return TimedRedis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        # One attempt per command, stated rather than left to redis-py's defaults (which have changed between
        # releases, with backoffs of seconds): a web request meets an unreachable Redis within the two timeouts
        # above and answers 503, and the workers' loops already retry at their own cadence.
        retry=Retry(NoBackoff(), retries=0),
        health_check_interval=30,
        decode_responses=decode,
    )


@cache
def get_redis() -> redis.Redis:
    """Text client for the coordination keys (leases, status hashes, signals)."""
    return _client(decode=True)


@cache
def get_rq_redis() -> redis.Redis:
    """Bytes client for RQ, which stores pickled jobs and must not have responses decoded."""
    return _client(decode=False)


def get_queue(name: str) -> Queue:
    config: dict[str, Any] = settings.RQ_QUEUES[name]
    return Queue(name, connection=get_rq_redis(), default_timeout=int(config["DEFAULT_TIMEOUT"]))


def reset_clients() -> None:
    """Forget the cached clients (after REDIS_URL changed, in tests)."""
    get_redis.cache_clear()
    get_rq_redis.cache_clear()
