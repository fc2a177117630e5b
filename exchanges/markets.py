"""Market rules (tick, step, minimums, maximums, fees, price band, open-order cap) shipped for the paper exchange.

`data/binance_spot_markets.json` holds common Binance spot symbols taken from Binance's exchangeInfo of
2021-10-12 (see its "source" field). Rules drift over time; the CCXT adapter reads live ones instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from exchanges.base import MarketRules, PriceBand

DATA_FILE = Path(__file__).resolve().parent / "data" / "binance_spot_markets.json"


def rules_from_dict(symbol: str, raw: Mapping[str, Any]) -> MarketRules:
    """MarketRules from the shipped file's form (decimal strings), or from rules_as_dict's, which adds the band's
    filter name and a sell band of its own where it differs (Binance's PERCENT_PRICE_BY_SIDE)."""
    band = _band(raw, "")
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
        sell_band=_band(raw, _SELL) if _SELL + "percent_price_up" in raw else band,
        max_open_orders=int(raw.get("max_open_orders", "0")),
        max_position=Decimal(raw.get("max_position", "0")),
    )


_SELL = "sell_"
_DECIMALS = (
    "tick_size",
    "step_size",
    "min_amount",
    "min_notional",
    "maker_fee",
    "taker_fee",
    "min_price",
    "max_price",
    "max_amount",
    "max_notional",
    "market_min_amount",
    "market_max_amount",
    "max_position",
)


def rules_as_dict(rules: MarketRules) -> dict[str, str]:
    """`rules` as rules_from_dict reads them back, equal field for field (str(Decimal) keeps each exponent, so
    0.010 stays 0.010): how a data set downloaded from an exchange keeps that exchange's rules (JSON)."""
    raw = {"base": rules.base, "quote": rules.quote, **{name: str(getattr(rules, name)) for name in _DECIMALS}}
    raw["max_open_orders"] = str(rules.max_open_orders)
    raw.update(_band_dict(rules.buy_band, ""))
    if rules.sell_band != rules.buy_band:
        raw.update(_band_dict(rules.sell_band, _SELL) or {_SELL + "percent_price_up": ""})
    return raw


def _band_dict(band: PriceBand | None, prefix: str) -> dict[str, str]:
    if band is None:
        return {}
    return {
        f"{prefix}percent_price_down": str(band.down),
        f"{prefix}percent_price_up": str(band.up),
        f"{prefix}avg_price_mins": str(band.average_minutes),
        f"{prefix}percent_price_filter": band.filter,
    }


def _band(raw: Mapping[str, Any], prefix: str) -> PriceBand | None:
    if not raw.get(f"{prefix}percent_price_up"):
        return None  # no band ("" for a sell side without one while the buy side has one)
    return PriceBand(
        Decimal(raw[f"{prefix}percent_price_down"]),
        Decimal(raw[f"{prefix}percent_price_up"]),
        int(raw.get(f"{prefix}avg_price_mins", "5")),
        raw.get(f"{prefix}percent_price_filter", "PERCENT_PRICE"),
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
