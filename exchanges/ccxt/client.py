"""Building CCXT clients: options per exchange, testnet, the shared rate limiter, the markets cache, the transport.

- `make_client` returns a real CCXT exchange object whose every HTTP request first takes its weight from the
  shared Redis limiter (when one is given) and whose 418/429 answers ban the whole scope for Retry-After.
- Markets are loaded once per process per (exchange, testnet) and reloaded after `MARKETS_TTL`; a failed reload
  keeps the markets already known, since trading rules rarely change and a stale tick beats no trading.
- `use_transport` is the one seam tests use: a `requests` adapter mounted on each new client's session answers
  the HTTP calls, so CCXT's whole path (sign, URL, parse, handle_errors) runs and nothing reaches the network.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import ccxt
from requests.adapters import BaseAdapter

from exchanges import registry
from exchanges.base import FatalExchangeError
from exchanges.ccxt.limits import LimitPlan
from exchanges.ccxt.ratelimit import SharedRateLimiter

logger = logging.getLogger(__name__)

MARKETS_TTL = 3600.0
MARKETS_RETRY = 60.0  # after a failed reload, keep the old markets this long before trying again
BAN_418_DEFAULT = 120.0  # Binance bans for 2 minutes at first when no Retry-After is given
BAN_429_DEFAULT = 10.0

TransportFactory = Callable[[str, bool], BaseAdapter]  # (exchange id, testnet) → adapter
_transport: TransportFactory | None = None


@contextmanager
def use_transport(factory: TransportFactory) -> Iterator[None]:
    """Within the block, new clients send their HTTP requests to `factory(exchange_id, testnet)` (tests only)."""
    global _transport
    previous, _transport = _transport, factory
    try:
        yield
    finally:
        _transport = previous


def _retry_after(headers: Any, default: float) -> float:
    try:
        value = float(headers.get("Retry-After"))
    except (AttributeError, TypeError, ValueError):
        return default
    return value if value > 0 else default


class SharedLimitMixin:
    """Put before a CCXT exchange class: every request waits for the shared limiter first."""

    aresbot_limiter: SharedRateLimiter | None = None
    aresbot_plan: LimitPlan | None = None
    aresbot_markets: Any = None  # the process-wide market list this client was given (see ensure_markets)

    def fetch2(
        self, path: str, api: Any = "public", method: str = "GET", params: Any = None, config: Any = None
    ) -> Any:
        params = {} if params is None else params
        config = {} if config is None else config
        client: Any = self
        limiter, plan = self.aresbot_limiter, self.aresbot_plan
        if limiter is not None and plan is not None:
            cost = float(client.calculate_rate_limiter_cost(api, method, path, params, config) or 1)
            charge = plan.charge(path, api, method, cost)
            limiter.acquire(charge.charges, ban_key=charge.ban_key)
        try:
            response = super().fetch2(path, api, method, params, config)  # type: ignore[misc]
        except (ccxt.DDoSProtection, ccxt.RateLimitExceeded) as exc:
            if limiter is not None and plan is not None:
                banned = " 418 " in f" {exc} "
                seconds = _retry_after(client.last_response_headers, BAN_418_DEFAULT if banned else BAN_429_DEFAULT)
                limiter.ban(plan.ban_key, seconds)
                logger.warning(
                    "%s: %s, every worker on this scope waits %.0f s", client.id, type(exc).__name__, seconds
                )
            raise
        if plan is not None:
            plan.learn(path, response)
        return response


_classes: dict[str, type] = {}


def _client_class(exchange_id: str) -> type:
    found = _classes.get(exchange_id)
    if found is None:
        base = getattr(ccxt, exchange_id, None)
        if not isinstance(base, type) or exchange_id not in ccxt.exchanges:
            raise FatalExchangeError(f"{exchange_id!r} is not a CCXT exchange id")
        found = _classes[exchange_id] = type(f"Shared{base.__name__}", (SharedLimitMixin, base), {})
    return found


def _options(exchange_id: str) -> dict[str, Any]:
    if exchange_id == "binance":
        return {
            "defaultType": "spot",
            "fetchMarkets": {"types": ["spot"]},  # spot only: no futures/options exchangeInfo calls
            "fetchCurrencies": False,  # a signed sapi call on every load, and absent on the testnet
            "fetchMargins": False,
        }
    return {}


def make_client(
    exchange_id: str,
    *,
    api_key: str = "",
    secret: str = "",
    password: str = "",
    testnet: bool = False,
    limiter: SharedRateLimiter | None = None,
    plan: LimitPlan | None = None,
    timeout_ms: int = 10_000,
) -> Any:
    config: dict[str, Any] = {
        # With a shared limiter, CCXT's own per-process pacing only adds delay on top of a stricter rule.
        "enableRateLimit": limiter is None,
        "timeout": timeout_ms,
        "options": _options(exchange_id),
    }
    for key, value in (("apiKey", api_key), ("secret", secret), ("password", password)):
        if value:
            config[key] = value
    client = _client_class(exchange_id)(config)
    client.aresbot_limiter = limiter
    client.aresbot_plan = plan
    if testnet:
        # Checked first: for most exchanges CCXT fails on its missing sandbox URLs with a TypeError, not NotSupported.
        if not registry.has_sandbox(exchange_id):
            raise FatalExchangeError(f"{exchange_id} has no testnet/sandbox in CCXT")
        client.set_sandbox_mode(True)
    if _transport is not None:
        adapter = _transport(exchange_id, testnet)
        client.session.mount("https://", adapter)
        client.session.mount("http://", adapter)
    return client


@dataclass
class _Markets:
    markets: dict[str, Any]
    currencies: dict[str, Any]
    loaded_at: float
    retry_at: float = 0.0


_markets: dict[tuple[str, bool], _Markets] = {}
_markets_lock = threading.Lock()


def ensure_markets(
    client: Any, *, testnet: bool, ttl: float = MARKETS_TTL, monotonic: Callable[[], float] = time.monotonic
) -> None:
    """Give `client` this process's markets for its exchange, loading or refreshing them when due."""
    key = (client.id, testnet)
    with _markets_lock:
        cached = _markets.get(key)
        now = monotonic()
        if cached is None or (now - cached.loaded_at >= ttl and now >= cached.retry_at):
            try:
                client.load_markets(reload=True)
            except Exception:
                if cached is None:
                    raise
                cached.retry_at = now + MARKETS_RETRY
                logger.warning(
                    "%s: market reload failed, keeping the markets loaded %.0f s ago", client.id, now - cached.loaded_at
                )
            else:
                cached = _markets[key] = _Markets(client.markets, client.currencies, now)
                client.aresbot_markets = cached
                return
        if client.aresbot_markets is not cached:
            client.set_markets(cached.markets, cached.currencies)
            client.aresbot_markets = cached


def forget_markets() -> None:
    """Drop every cached market list (tests)."""
    with _markets_lock:
        _markets.clear()
