"""Prices shared within an engine host's round: the engines on one exchange ask for their symbols' prices, and
the first to ask in a round fetches all of them in one request (`fetch_tickers`, through the exchange's shared
rate limiter); the others read that answer. A paper account following a live exchange shares it the same way.

The engine is none the wiser: its exchange (or its paper feed's) reads `fetch_price` through SharedPriceExchange,
and a price is never older than the round that asked for it. Outside a host (one engine per process, backtests)
nothing is installed and every call goes to the exchange as before.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from decimal import Decimal
from typing import Any, cast

from exchanges.base import NetworkError
from exchanges.ccxt.exchange import CcxtExchange


class RoundPrices:
    def __init__(self) -> None:
        self.round = 0
        self.fetches = 0  # requests made (for tests and, later, metrics)
        self._prices: dict[str, tuple[int, dict[str, Decimal]]] = {}
        self._symbols: dict[str, set[str]] = defaultdict(set)
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def next_round(self) -> None:
        self.round += 1

    def price(self, key: str, symbol: str, exchange: CcxtExchange) -> Decimal:
        with self._guard:
            self._symbols[key].add(symbol)
            lock = self._locks[key]
        with lock:  # one request per exchange and round; the others wait for its answer
            current = self.round
            fetched_in, prices = self._prices.get(key, (-1, {}))
            if fetched_in != current or symbol not in prices:
                with self._guard:
                    wanted = sorted(self._symbols[key])
                self.fetches += 1
                prices = exchange.fetch_prices(wanted)
                self._prices[key] = (current, prices)
        if symbol not in prices:
            raise NetworkError(f"{exchange.exchange_id} gave no last price for {symbol}")
        return prices[symbol]


class SharedPriceExchange:
    """A CCXT exchange whose fetch_price reads the round's shared prices; everything else goes to it unchanged."""

    def __init__(self, inner: CcxtExchange, prices: RoundPrices, key: str) -> None:
        self._inner = inner
        self._prices = prices
        self._key = key

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def fetch_price(self, symbol: str) -> Decimal:
        return self._prices.price(self._key, symbol, self._inner)


_installed: RoundPrices | None = None


def install(prices: RoundPrices | None) -> None:
    """Make the exchanges built from now on in this process (trading/runtime/factory.py) share `prices`."""
    global _installed
    _installed = prices


def shared(exchange: CcxtExchange) -> CcxtExchange:
    """`exchange` reading its prices from the installed round, if any (its public prices are the same for every
    account: the key is the exchange and whether it is the testnet)."""
    if _installed is None:
        return exchange
    key = f"{exchange.exchange_id}:{'testnet' if exchange.testnet else 'live'}"
    return cast("CcxtExchange", SharedPriceExchange(exchange, _installed, key))
