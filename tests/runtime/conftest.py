from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pytest_django.fixtures import Settings

from aresbot.redis import reset_clients
from tests.processes import RedisServer


@pytest.fixture
def private_redis_server(tmp_path: Path, settings: Settings) -> Iterator[RedisServer]:
    """A redis-server of the test's own on a free port, which the test may kill and restart; the app's clients
    (REDIS_URL) point at it for the test's duration. Tests that only need Redis use `redis_client` instead."""
    server = RedisServer(tmp_path)
    server.start()
    settings.REDIS_URL = server.url
    reset_clients()
    yield server
    server.stop()
    reset_clients()


@pytest.fixture
def private_redis(private_redis_server: RedisServer) -> redis.Redis:
    """A text client of the private redis-server, to read the keys the workers write."""
    return redis.Redis.from_url(private_redis_server.url, decode_responses=True, socket_timeout=2)
