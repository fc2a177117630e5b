"""Where a paper account's prices come from: a live exchange's public ticker, or a candle data set AresBot ships.

The account names its source (accounts.models.ExchangeAccount.price_source); the runtime turns it into the feed spec
its paper book stores (exchanges.paper.feeds.feed_from_spec), and a strategy's symbol is checked against the markets
the source has: the live exchange's markets, or the data set's symbol. No Django here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from exchanges.paper.feeds import DATA_DIR, Candle, load_candles

DEFAULT_LIVE_EXCHANGE = "binance"
# Slower than real time helps nobody; a month of hourly candles at the top speed passes in about four minutes.
MIN_REPLAY_SPEED = Decimal(1)
MAX_REPLAY_SPEED = Decimal(10_000)


class PriceSourceKind(StrEnum):
    LIVE = "live"
    REPLAY = "replay"


@dataclass(frozen=True)
class ReplayDataset:
    """A candle file shipped in exchanges/data (its README names the source and licence of each)."""

    name: str
    file: str  # relative to exchanges/data: the feed spec stores this, so it survives a move of the installation
    symbol: str
    interval: timedelta
    description: str

    @property
    def symbols(self) -> frozenset[str]:
        return frozenset({self.symbol})

    def load(self) -> list[Candle]:
        """The candles; OSError or ValueError when the file is missing or unreadable."""
        candles = load_candles(DATA_DIR / self.file)
        if not candles:
            raise ValueError(f"data set {self.name} has no candles")
        return candles


DATASETS: dict[str, ReplayDataset] = {
    d.name: d
    for d in (
        ReplayDataset(
            "BTCUSDT-1m-2022-05-05",
            "replay/BTCUSDT-1m-2022-05-05.csv",
            "BTC/USDT",
            timedelta(minutes=1),
            "Binance BTCUSDT 1-minute candles of 2022-05-05, 1,440 candles, the quick start's demo",
        ),
        ReplayDataset(
            "ETHUSDT-1h-2021-01",
            "replay/ETHUSDT-1h-2021-01.csv",
            "ETH/USDT",
            timedelta(hours=1),
            "Binance spot ETHUSDT hourly candles of January 2021, 744 candles",
        ),
    )
}


def dataset_by_file(file: str) -> ReplayDataset | None:
    return next((d for d in DATASETS.values() if d.file == file), None)


@dataclass(frozen=True)
class PriceSource:
    """A paper account's price source. `exchange` is for live, `dataset` and `speed` for replay."""

    kind: PriceSourceKind = PriceSourceKind.LIVE
    exchange: str = DEFAULT_LIVE_EXCHANGE
    dataset: str = ""
    speed: Decimal = Decimal(1)

    @property
    def replay(self) -> ReplayDataset:
        """The data set of a replay source; KeyError when the catalogue has none of that name."""
        return DATASETS[self.dataset]

    def describe(self) -> str:
        if self.kind == PriceSourceKind.REPLAY:
            return f"data set {self.dataset}"
        return self.exchange

    def feed_spec(self, symbol: str, start: datetime) -> dict[str, Any]:
        """The feed spec a paper book stores for `symbol`; a replay starts at `start` (the first trade's time)."""
        if self.kind == PriceSourceKind.REPLAY:
            return {
                "kind": "replay",
                "path": self.replay.file,
                "start": start.isoformat(),
                "speed": f"{self.speed.normalize():f}",
            }
        return {"kind": "ticker", "exchange": self.exchange, "symbol": symbol}
