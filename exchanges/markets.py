"""Market rules (tick, step, minimums, maximums, fees, price band, open-order cap) shipped for the paper exchange.

`data/binance_spot_markets.json` holds common Binance spot symbols taken from Binance's exchangeInfo of
2021-10-12 (see its "source" field). Rules drift over time; the CCXT adapter reads live ones instead.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from pathlib import Path

from exchanges.base import MarketRules, PriceBand

DATA_FILE = Path(__file__).resolve().parent / "data" / "binance_spot_markets.json"


def rules_from_dict(symbol: str, raw: dict[str, str]) -> MarketRules:
    band = None
    if raw.get("percent_price_up"):
        band = PriceBand(
            Decimal(raw["percent_price_down"]), Decimal(raw["percent_price_up"]), int(raw.get("avg_price_mins", "5"))
        )
    return MarketRules(
        symbol=symbol,
        base=raw["base"],
        quote=raw["quote"],
        tick_size=Decimal(raw["tick_size"]),
        step_size=Decimal(raw["step_size"]),
        min_amount=Decimal(raw["min_amount"]),
        min_notional=Decimal(raw["min_notional"]),
        maker_fee=Decimal(raw.get("maker_fee", "0.001")),
        taker_fee=Decimal(raw.get("taker_fee", "0.001")),
        min_price=Decimal(raw.get("min_price", "0")),
        max_price=Decimal(raw.get("max_price", "0")),
        max_amount=Decimal(raw.get("max_amount", "0")),
        max_notional=Decimal(raw.get("max_notional", "0")),
        market_min_amount=Decimal(raw.get("market_min_amount", "0")),
        market_max_amount=Decimal(raw.get("market_max_amount", "0")),
        buy_band=band,
        sell_band=band,
        max_open_orders=int(raw.get("max_open_orders", "0")),
        max_position=Decimal(raw.get("max_position", "0")),
    )


@cache
def binance_spot_markets() -> dict[str, MarketRules]:
    """symbol ("BTC/USDT") → rules, from the shipped file."""
    with DATA_FILE.open(encoding="utf-8") as fh:
        doc = json.load(fh)
    return {symbol: rules_from_dict(symbol, raw) for symbol, raw in doc["markets"].items()}


def market_rules(symbol: str) -> MarketRules:
    markets = binance_spot_markets()
    try:
        return markets[symbol]
    except KeyError:
        known = ", ".join(sorted(markets))
        raise KeyError(f"No market rules for {symbol!r} in {DATA_FILE.name}; known symbols: {known}") from None
