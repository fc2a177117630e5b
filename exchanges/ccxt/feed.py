"""A paper account's live price: a real exchange's public ticker, read through the CCXT adapter.

The same idea as `exchanges.paper.feeds.TickerFeed` (no history: fills happen at the prices seen), but every read goes
through CcxtExchange, so it shares the account's Redis rate limits with the live strategies on this IP, retries
with backoff, and can be answered by the test transport. Fills stay simulated by the paper exchange: a dry run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from exchanges.ccxt.exchange import CcxtExchange
from exchanges.paper.feeds import Point


class LiveTickerFeed:
    def __init__(self, exchange: CcxtExchange, symbol: str, *, min_interval: float = 1.0) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self._min_interval = timedelta(seconds=min_interval)
        self._last: Point | None = None

    def price_at(self, at: datetime) -> Decimal:
        if self._last is None or at - self._last[0] >= self._min_interval:
            self._last = (at, self.exchange.fetch_price(self.symbol))
        return self._last[1]

    def path(self, after: datetime, until: datetime) -> list[Point]:
        return [(until, self.price_at(until))]
