"""The Redis client factories, so every process connects with the same URL, password and timeouts."""

from __future__ import annotations

from functools import cache
from typing import Any

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue


def _client(*, decode: bool) -> redis.Redis:
    return redis.Redis.from_url(
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
