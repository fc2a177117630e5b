from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis
import requests
from django.contrib.auth.models import User
from django.core.cache import cache
from pytest_django.fixtures import Settings
from requests.adapters import BaseAdapter
from rest_framework.test import APIClient

from aresbot.redis import get_redis, reset_clients
from exchanges.ccxt.client import forget_markets, use_transport
from tests.ccxt.fake_binance import FakeBinance
from tests.factories import TOTP_SECRET, make_user
from tests.fake_github import github  # noqa: F401  the `github` fixture, for every sign-in test
from tests.processes import RedisServer, free_port
from tests.totp import PERIOD, totp


class Offline(BaseAdapter):
    """Any exchange but Binance, as the test suite sees it: unreachable."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        raise requests.exceptions.ConnectionError(f"no network in the tests: {request.method} {request.url}")

    def close(self) -> None:
        pass


@pytest.fixture(autouse=True)
def offline_exchanges() -> Iterator[FakeBinance]:
    """No test reaches an exchange: every CCXT client answers from a fake Binance built on recorded responses
    (tests/fixtures/binance, so Binance's markets are its real ones), and any other exchange is unreachable. The
    adapter's own tests mount a fake of their own over this one (`transport` in tests/ccxt/conftest.py)."""
    fake = FakeBinance()
    forget_markets()  # the adapter's per-process copy of the markets: each test's fake answers for its own
    with use_transport(lambda exchange_id, testnet: fake if exchange_id == "binance" else Offline()):
        yield fake
    forget_markets()


@dataclass
class TotpClock:
    """allauth's TOTP clock, held at one instant the test moves: the code a test computes for `now` (tests/totp.py)
    is the one the server expects, however long the test takes."""

    now: float = 1_800_000_000.0

    def code(self, secret: str = TOTP_SECRET) -> str:
        return totp(secret, self.now)

    def next_period(self) -> None:
        """A fresh code: allauth accepts each code once."""
        self.now += PERIOD


@pytest.fixture
def totp_clock(monkeypatch: pytest.MonkeyPatch) -> TotpClock:
    clock = TotpClock()
    monkeypatch.setattr("allauth.mfa.totp.internal.auth.time", SimpleNamespace(time=lambda: clock.now))
    return clock


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """The app's own Redis connection (REDIS_URL: a database of the tests' own, 14 by default), emptied before and
    after the test, so that no key of one test meets another. The tests that kill and restart Redis use a
    private redis-server instead (`private_redis_server` below)."""
    client = get_redis()
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def fresh_cache() -> None:
    """An empty Django cache (Redis): allauth's rate limits and the sign-in failure counts of an earlier test must
    not refuse this one's sign-ins. It empties the tests' Redis database, as `redis_client` does."""
    cache.clear()


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


@pytest.fixture
def redis_at_a_closed_port(settings: Settings) -> Iterator[None]:
    """Redis unreachable: the app's clients point at a port nothing listens on (connection refused at once)."""
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    reset_clients()
    yield
    reset_clients()


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
