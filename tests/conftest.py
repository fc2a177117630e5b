from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from accounts.models import ExchangeAccount
from aresbot.redis import get_redis
from strategies.models import Strategy


@pytest.fixture
def clean_redis() -> Iterator[redis.Redis]:
    """The app's own Redis connection (REDIS_URL: database 14 in tests), emptied before and after the test."""
    client = get_redis()
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def alice(db: Any) -> User:
    return User.objects.create_user("alice", password="alice-password")


@pytest.fixture
def bob(db: Any) -> User:
    return User.objects.create_user("bob", password="bob-password")


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


def make_paper_account(owner: User, name: str = "paper", **kwargs: Any) -> ExchangeAccount:
    account = ExchangeAccount(owner=owner, name=name, exchange="paper", paper_balances={"USDT": "10000"}, **kwargs)
    account.full_clean()
    account.save()
    return account


def make_strategy(owner: User, account: ExchangeAccount, name: str = "grid", **kwargs: Any) -> Strategy:
    values: dict[str, Any] = {
        "symbol": "BTC/USDT",
        "grid_levels": 5,
        "buy_offset_pct": Decimal("1"),
        "sell_offset_pct": Decimal("1"),
        "order_size_quote": Decimal("20"),
    }
    values.update(kwargs)
    strategy = Strategy(owner=owner, account=account, name=name, **values)
    strategy.full_clean()
    strategy.save()
    return strategy
