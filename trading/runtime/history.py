"""Candles and market rules for backtests, downloaded from an exchange: the Django side of exchanges.ccxt.ohlcv.

Both go through an unsigned CCXT adapter under the shared Redis rate limiter (`public_exchange`: the outbound IP's
budget, as the live engines and the charts spend it), with the adapter's retries. Candles are cached under
`settings.BACKTEST_CACHE_DIR` unless the caller names another folder.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from django.conf import settings

from exchanges import registry
from exchanges.base import FatalExchangeError, MarketRules
from exchanges.ccxt.exchange import CcxtExchange
from exchanges.ccxt.ohlcv import Progress, download_ohlcv, market_rules
from exchanges.clock import Clock
from exchanges.paper.series import CandleSeries
from trading.runtime.factory import public_exchange


def history_exchange(exchange_id: str, *, testnet: bool = False) -> CcxtExchange:
    """The adapter downloads use; ValueError naming `exchange_id` when it is not a CCXT exchange."""
    if exchange_id == registry.PAPER or not registry.is_supported(exchange_id):
        raise ValueError(f"exchange {exchange_id!r} is not a CCXT exchange id (such as binance, kraken, okx)")
    try:
        return public_exchange(exchange_id, testnet=testnet)
    except FatalExchangeError as exc:
        raise ValueError(f"exchange {exchange_id!r}: {exc}") from None


def download_candles(
    exchange_id: str,
    symbol: str,
    timeframe: str,
    since: datetime,
    until: datetime | None = None,
    *,
    testnet: bool = False,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    clock: Clock | None = None,
) -> CandleSeries:
    """`symbol`'s `timeframe` candles opening in [since, until) (until None: now) on `exchange_id`, from the cache
    where it has them (see exchanges.ccxt.ohlcv.download_ohlcv, whose ValueErrors name a bad argument)."""
    return download_ohlcv(
        history_exchange(exchange_id, testnet=testnet),
        symbol,
        timeframe,
        since,
        until,
        cache_dir=cache_dir or settings.BACKTEST_CACHE_DIR,
        progress=progress,
        clock=clock,
    )


def exchange_market_rules(exchange_id: str, symbol: str, *, testnet: bool = False) -> MarketRules:
    """`symbol`'s rules on `exchange_id` (tick, step, minimums, fees, open-order cap), as a backtest of downloaded
    candles trades by; ValueError naming an unknown exchange or symbol."""
    return market_rules(history_exchange(exchange_id, testnet=testnet), symbol)
