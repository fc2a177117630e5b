"""Prices shared within an engine host's round: the engines on one exchange cost one ticker request per round,
whatever their number and symbols (trading/runtime/prices.py); outside a host nothing changes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.ccxt.fake_binance import FakeBinance
from trading.runtime import prices
from trading.runtime.factory import public_exchange


@pytest.fixture
def round_prices() -> Iterator[prices.RoundPrices]:
    shared = prices.RoundPrices()
    prices.install(shared)
    yield shared
    prices.install(None)


def ticker_requests(fake: FakeBinance) -> int:
    return len(fake.sent("GET", "/api/v3/ticker/24hr"))


def test_engines_on_one_exchange_share_one_ticker_request_per_round(offline_exchanges, round_prices):
    fake = offline_exchanges
    fake.prices["ETHUSDT"] = Decimal(2000)
    engines = [public_exchange("binance") for _ in range(6)]  # as each engine's exchange is built
    symbols = ["BTC/USDT", "ETH/USDT", "BTC/USDT", "ETH/USDT", "BTC/USDT", "ETH/USDT"]
    for exchange, symbol in zip(engines, symbols, strict=True):
        exchange.fetch_price(symbol)  # the first round: each symbol is learnt as it is asked for
    before = ticker_requests(fake)
    for _ in range(3):
        round_prices.next_round()
        seen: dict[int, Decimal] = {}

        def ask(n: int, exchange: Any, symbol: str, seen: dict[int, Decimal] = seen) -> None:
            seen[n] = exchange.fetch_price(symbol)

        threads = [
            threading.Thread(target=ask, args=(n, e, s)) for n, (e, s) in enumerate(zip(engines, symbols, strict=True))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert seen[0] == fake.prices["BTCUSDT"] and seen[1] == fake.prices["ETHUSDT"]
    assert ticker_requests(fake) - before == 3  # one request a round for six engines and two symbols


def test_outside_a_host_every_engine_asks_for_itself(offline_exchanges):
    fake = offline_exchanges
    engines = [public_exchange("binance") for _ in range(3)]
    before = ticker_requests(fake)
    for exchange in engines:
        exchange.fetch_price("BTC/USDT")
    assert ticker_requests(fake) - before == 3
