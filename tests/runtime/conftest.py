from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """A real Redis connection on a database of its own, emptied before and after each test.

    Database 13 keeps these tests away from the app's own database 0 (and from anyone's data in it).
    """
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
    client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def job_id() -> str:
    return str(uuid.uuid4())
