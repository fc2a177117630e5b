from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from aresbot.redis import get_redis
from tests.factories import make_user


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """The app's own Redis connection (REDIS_URL: a database of the tests' own, 14 by default), emptied before and
    after the test, so that no key of one test meets another. The runtime tests that kill and restart Redis use a
    private redis-server instead (`private_redis_server` in tests/runtime/conftest.py)."""
    client = get_redis()
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def alice(db: Any) -> User:
    return make_user("alice")


@pytest.fixture
def bob(db: Any) -> User:
    return make_user("bob")


@pytest.fixture
def alice_client(alice: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(alice)
    return client


@pytest.fixture
def bob_client(bob: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(bob)
    return client
