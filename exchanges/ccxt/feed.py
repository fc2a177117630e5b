"""A paper account's live price: a real exchange's public ticker, read through the CCXT adapter.

The same idea as `exchanges.paper.feeds.TickerFeed` (no history: fills happen at the prices seen), but every read goes
through CcxtExchange, so it shares the account's Redis rate limits with the live strategies on this IP, retries
with backoff, and can be answered by the test transport. Fills stay simulated by the paper exchange: a dry run.
A read can take as long as the adapter's timeouts, retries and rate-limit waits: it happens in `observe`, which
the paper exchange calls before it locks its book.
"""

from __future__ import annotations

from exchanges.ccxt.exchange import CcxtExchange
from exchanges.paper.feeds import PolledPriceFeed


class LiveTickerFeed(PolledPriceFeed):
    def __init__(self, exchange: CcxtExchange, symbol: str, *, min_interval: float = 1.0) -> None:
        self.exchange = exchange
        self.symbol = symbol
        super().__init__(lambda: exchange.fetch_price(symbol), min_interval=min_interval)
