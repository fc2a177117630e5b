"""Which shared rate-limit buckets a CCXT request is charged to, with the exchange's published weights.

Redis keys (`{exchange}` is the CCXT id, with `-testnet` appended on a testnet, whose limits are separate):

- Binance spot: `ratelimit:{exchange}:ip:{ip}` REQUEST_WEIGHT per minute (Binance counts it per outbound IP),
  `ratelimit:{exchange}:ip:{ip}:raw` RAW_REQUESTS per 5 minutes, `ratelimit:{exchange}:{account}:orders:10s` and
  `ratelimit:{exchange}:{account}:orders:1d` ORDERS (counted per account); bans on `ratelimit:{exchange}:ip:{ip}:ban`.
- Any other exchange: `ratelimit:{exchange}:{account}` per minute, sized from CCXT's `rateLimit` (CCXT's model:
  one cost unit per `rateLimit` ms) and charged CCXT's per-endpoint cost; bans on `ratelimit:{exchange}:{account}:ban`.

Binance weights come from CCXT's endpoint table, which encodes Binance's published weights as cost = weight × 0.2
(e.g. GET order 4, openOrders 6 with a symbol, account 20, exchangeInfo 20, ticker 2 — the current documentation).
The limits start from Binance's documented 1200 weight/min, 50 orders/10 s, 160000 orders/day and are replaced
by the `rateLimits` of the exchangeInfo the adapter loads. Where an older exchangeInfo states 1200/min with the
older, lower weights (GET order 2, account 10), charging the current weights against it only errs on the safe side.
Only `share` of each limit is handed out, to leave room for the user's own tools and for network jitter shifting
requests across Binance's minute boundaries.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from exchanges.ccxt.ratelimit import Bucket

BINANCE_COST_PER_WEIGHT = 0.2
DEFAULT_SHARE = 0.8
COST_SCALE = 100  # generic exchanges: CCXT costs are fractional, buckets count hundredths


_NEW_ORDER = frozenset({"order", "order/oco", "orderList/oco", "orderList/oto", "orderList/otoco"})


@dataclass(frozen=True, slots=True)
class Charge:
    charges: Sequence[tuple[Bucket, int]]
    ban_key: str


class LimitPlan(Protocol):
    """Maps one CCXT request onto buckets; learns limits the exchange states."""

    @property
    def ban_key(self) -> str: ...

    def charge(self, path: str, api: Any, method: str, cost: float) -> Charge: ...

    def learn(self, path: str, response: Any) -> None: ...


def _interval_seconds(interval: str, num: int) -> float:
    unit = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}.get(interval.upper())
    if unit is None:
        raise ValueError(f"unknown rate limit interval {interval!r}")
    return float(unit * num)


BINANCE_DEFAULT_LIMITS: dict[tuple[str, float], int] = {
    ("REQUEST_WEIGHT", 60.0): 1200,
    ("ORDERS", 10.0): 50,
    ("ORDERS", 86400.0): 160000,
    ("RAW_REQUESTS", 300.0): 6100,
}
# What exchangeInfo stated, per exchange label, for every plan in this process: markets (and so exchangeInfo)
# load once per process, and the clients made afterwards must know the limits too.
_learned: dict[str, dict[tuple[str, float], int]] = {}


@dataclass
class BinanceSpotPlan:
    exchange: str  # "binance" or "binance-testnet"
    account: str
    ip: str
    share: float = DEFAULT_SHARE
    # (type, seconds) → published limit, shared in the process once learned from exchangeInfo's rateLimits
    limits: dict[tuple[str, float], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.limits:
            self.limits = _learned.setdefault(self.exchange, dict(BINANCE_DEFAULT_LIMITS))

    def _bucket(self, kind: str, seconds: float) -> Bucket:
        limit = max(int(self.limits[(kind, seconds)] * self.share), 1)
        if kind == "REQUEST_WEIGHT":
            key = f"ratelimit:{self.exchange}:ip:{self.ip}"
        elif kind == "RAW_REQUESTS":
            key = f"ratelimit:{self.exchange}:ip:{self.ip}:raw"
        else:
            key = f"ratelimit:{self.exchange}:{self.account}:orders:{_label(seconds)}"
        return Bucket(key, limit, seconds)

    @property
    def ban_key(self) -> str:
        return f"ratelimit:{self.exchange}:ip:{self.ip}:ban"

    def weight(self, cost: float) -> int:
        return max(math.ceil(round(cost / BINANCE_COST_PER_WEIGHT, 6)), 1)

    def charge(self, path: str, api: Any, method: str, cost: float) -> Charge:
        charges: list[tuple[Bucket, int]] = []
        for kind, seconds in self.limits:
            if kind == "REQUEST_WEIGHT":
                charges.append((self._bucket(kind, seconds), self.weight(cost)))
            elif kind == "RAW_REQUESTS" or (kind == "ORDERS" and method.upper() == "POST" and path in _NEW_ORDER):
                charges.append((self._bucket(kind, seconds), 1))
        return Charge(charges, self.ban_key)

    def learn(self, path: str, response: Any) -> None:
        if path == "exchangeInfo" and isinstance(response, Mapping):
            self.update(response.get("rateLimits") or ())

    def update(self, rate_limits: Iterable[Mapping[str, Any]]) -> None:
        for item in rate_limits:
            try:
                seconds = _interval_seconds(str(item["interval"]), int(item.get("intervalNum", 1)))
                self.limits[(str(item["rateLimitType"]), seconds)] = int(item["limit"])
            except (KeyError, TypeError, ValueError):
                continue  # a limit type we do not know how to read is not one we can honour anyway


@dataclass
class CostPlan:
    """Any CCXT exchange: CCXT's costs against the capacity its `rateLimit` implies, per account."""

    exchange: str
    account: str
    rate_limit_ms: float
    share: float = DEFAULT_SHARE

    @property
    def ban_key(self) -> str:
        return f"ratelimit:{self.exchange}:{self.account}:ban"

    def charge(self, path: str, api: Any, method: str, cost: float) -> Charge:
        per_minute = 60_000 / max(self.rate_limit_ms, 1.0) * COST_SCALE * self.share
        bucket = Bucket(f"ratelimit:{self.exchange}:{self.account}", max(int(per_minute), COST_SCALE), 60.0)
        return Charge([(bucket, max(math.ceil(cost * COST_SCALE), 1))], self.ban_key)

    def learn(self, path: str, response: Any) -> None:
        return None


def _label(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def plan_for(exchange_id: str, *, testnet: bool, account: str, ip: str, rate_limit_ms: float) -> LimitPlan:
    label = f"{exchange_id}-testnet" if testnet else exchange_id
    if exchange_id == "binance":
        return BinanceSpotPlan(label, account, ip)
    return CostPlan(label, account, rate_limit_ms)
