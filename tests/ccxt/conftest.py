from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from exchanges.backoff import Backoff
from exchanges.ccxt.client import forget_markets, make_client, use_transport
from exchanges.ccxt.exchange import CcxtExchange
from exchanges.ccxt.limits import BinanceSpotPlan
from exchanges.ccxt.ratelimit import SharedRateLimiter
from tests.ccxt.fake_binance import API_KEY, API_SECRET, FakeBinance


@pytest.fixture
def fake() -> FakeBinance:
    return FakeBinance()


@pytest.fixture
def transport(fake: FakeBinance) -> Iterator[FakeBinance]:
    """Every CCXT client made in the test talks to `fake`; the markets cache starts empty. No request may be sent
    while the code under test holds a database transaction open."""
    forget_markets()
    with use_transport(lambda exchange_id, testnet: fake):
        yield fake
    forget_markets()
    assert fake.sent_in_transaction == [], "requests sent inside a database transaction"


@pytest.fixture
def scope(redis_client: redis.Redis) -> str:
    """A fresh outbound-IP label for the limiter's keys, in the emptied Redis database of `redis_client`."""
    return f"test-{uuid.uuid4().hex[:12]}"


class Sleeps(list[float]):
    """An injected sleep that records instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def limiter(redis_client: redis.Redis) -> SharedRateLimiter:
    return SharedRateLimiter(redis_client, max_wait=5)


def binance_adapter(limiter: SharedRateLimiter, ip: str, sleep: Any, **kwargs: Any) -> CcxtExchange:
    client = make_client("binance", api_key=API_KEY, secret=API_SECRET, limiter=limiter)
    client.aresbot_plan = BinanceSpotPlan("binance", f"acct-{ip}", ip)
    return CcxtExchange(client, sleep=sleep, backoff=Backoff(attempts=3, base=0.01), **kwargs)


@pytest.fixture
def binance(transport: FakeBinance, limiter: SharedRateLimiter, scope: str, sleeps: Sleeps) -> CcxtExchange:
    return binance_adapter(limiter, scope, sleeps)
