"""CCXT's exception tree mapped onto the core's error classes, and the reasons a user sees for them.

The core classes say what the engine must do next (see exchanges.base); CCXT's say what went wrong. Binance's
own error code is read from the response body first where CCXT's spot mapping is too coarse (-1013, -2011 come
out of CCXT as a bare ExchangeError), then CCXT's class decides. Every message is scrubbed: CCXT puts the signed
URL (with `signature=`) and the request body into some of its messages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from enum import StrEnum

import ccxt

from exchanges.base import (
    AuthenticationError,
    BelowMinimum,
    ExchangeError,
    ExchangeUnavailable,
    FatalExchangeError,
    InsufficientFunds,
    InvalidOrder,
    NetworkError,
    OrderNotFound,
    PermissionDenied,
    RateLimitExceeded,
    RequestTimeout,
)


# --- finer classes: subclasses of the core's, so the engine's reaction is unchanged -----------------------------
class KeyRejected(AuthenticationError):
    """Binance -2015: the key is wrong or deleted, this IP is not on its whitelist, or it lacks the permission."""


class IpNotWhitelisted(PermissionDenied):
    pass


class NoTradePermission(PermissionDenied):
    pass


class ClockSkew(NetworkError):
    """The request's timestamp fell outside recvWindow (-1021): rejected before it took effect; resync the clock."""


class IpBanned(RateLimitExceeded):
    """HTTP 418: the IP is banned for ignoring 429s. `retry_after` seconds until the ban ends, if the exchange said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Reason(StrEnum):
    """Machine-readable causes, for `POST /api/accounts/{id}/verify` and the strategy status."""

    OK = "ok"
    BAD_KEY = "bad_key"
    KEY_OR_IP_REJECTED = "key_or_ip_rejected"
    IP_NOT_WHITELISTED = "ip_not_whitelisted"
    NO_TRADE_PERMISSION = "no_trade_permission"
    UNREACHABLE = "unreachable"
    RATE_LIMITED = "rate_limited"
    CLOCK_SKEW = "clock_skew"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    INVALID_ORDER = "invalid_order"
    EXCHANGE_ERROR = "exchange_error"
    DATA_SET_UNREADABLE = "data_set_unreadable"  # a paper account's replay: its candle file cannot be read


# --- scrubbing ------
_SECRET_PARAMS = re.compile(r"(?i)\b(signature|apikey|api_key|secret|passphrase|password|token)=[^&\s\"']*")
_QUERY = re.compile(r"(https?://[^\s?\"']+)\?[^\s\"']*")


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without credentials: the signed query string of a URL, secret-named params, and the known secrets."""
    text = _QUERY.sub(r"\1?[params]", text)
    text = _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}=[redacted]", text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


# --- classification ------
_BODY = re.compile(r"\{.*\}", re.DOTALL)
_IP_WORDS = re.compile(
    r"(?i)\bip\b.*(white ?list|trusted|not allowed|unmatched|restrict)|(white ?list|trusted).*\bip\b"
)


def binance_error(message: str) -> tuple[int | None, str]:
    """(code, msg) of the Binance error body embedded in a CCXT message, or (None, "")."""
    match = _BODY.search(message)
    if match is None:
        return None, ""
    try:
        body = json.loads(match.group(0))
    except ValueError:
        return None, ""
    if not isinstance(body, dict):
        return None, ""
    code = body.get("code")
    try:
        return (int(code) if code is not None else None), str(body.get("msg", ""))
    except (TypeError, ValueError):
        return None, str(body.get("msg", ""))


def _binance(code: int, msg: str, text: str) -> ExchangeError | None:
    if code == -1013 or (code == -2010 and "filter failure" in msg.lower()):
        if "NOTIONAL" in msg:
            return BelowMinimum(f"Binance refused the order ({code} {msg}): {text}")
        return InvalidOrder(f"Binance refused the order ({code} {msg}): {text}")
    if code == -2010:
        if "insufficient balance" in msg.lower():
            return InsufficientFunds(f"Binance: insufficient balance ({code}): {text}")
        return InvalidOrder(f"Binance rejected the new order ({code} {msg}): {text}")
    if code in (-2011, -2013):
        return OrderNotFound(f"Binance does not know the order ({code} {msg}): {text}")
    if code == -1021:
        return ClockSkew(f"Binance: request timestamp outside recvWindow ({code}); clock resynced: {text}")
    if code in (-2014, -1022, -2008):
        return AuthenticationError(f"Binance rejected the API key or signature ({code} {msg}): {text}")
    if code == -2015:
        return KeyRejected(
            f"Binance rejected the API key (-2015): the key is wrong or deleted, this server's IP is not on the "
            f"key's whitelist, or the key lacks the permission: {text}"
        )
    if code in (-1003, -1015):
        return RateLimitExceeded(f"Binance rate limit ({code} {msg}): {text}")
    if code in (-1000, -1001, -1006, -1007):
        # "Execution status unknown": the order may exist. Retryable, so the caller looks it up.
        return NetworkError(f"Binance: outcome unknown ({code} {msg}): {text}")
    if code == -1121:
        return FatalExchangeError(f"Binance: invalid symbol ({code}): {text}")
    return None


def classify(exc: Exception, *, exchange_id: str = "", secrets: Iterable[str] = ()) -> ExchangeError:
    """The core error for a CCXT (or requests) exception, its message scrubbed of credentials."""
    if isinstance(exc, ExchangeError):
        return exc
    text = scrub(str(exc) or type(exc).__name__, secrets)
    # CCXT raises DDoSProtection for 418/429 and for Binance's -2015 once a key has worked (a temporary ban),
    # so its verdict wins over the code in the body.
    if isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
        if " 418 " in f" {text} ":
            return IpBanned(f"IP banned by {exchange_id or 'the exchange'} (HTTP 418): {text}")
        return RateLimitExceeded(f"rate limit: {text}")
    if exchange_id.startswith("binance"):
        code, msg = binance_error(text)
        if code is not None:
            found = _binance(code, msg, text)
            if found is not None:
                return found
    if isinstance(exc, ccxt.RequestTimeout):
        return RequestTimeout(f"timeout: {text}")
    if isinstance(exc, ccxt.InvalidNonce):
        return ClockSkew(f"clock skew: {text}")
    if isinstance(exc, ccxt.ExchangeNotAvailable):  # includes OnMaintenance
        return ExchangeUnavailable(f"exchange unavailable: {text}")
    if isinstance(exc, ccxt.NetworkError | ccxt.OperationFailed):
        return NetworkError(f"exchange unreachable: {text}")
    if isinstance(exc, ccxt.PermissionDenied | ccxt.AccountSuspended):
        if _IP_WORDS.search(text):
            return IpNotWhitelisted(f"IP not whitelisted: {text}")
        return PermissionDenied(f"permission denied: {text}")
    if isinstance(exc, ccxt.AuthenticationError):
        if _IP_WORDS.search(text):
            return IpNotWhitelisted(f"IP not whitelisted: {text}")
        return AuthenticationError(f"authentication failed: {text}")
    if isinstance(exc, ccxt.InsufficientFunds):
        return InsufficientFunds(f"insufficient funds: {text}")
    if isinstance(exc, ccxt.OrderNotFound):
        return OrderNotFound(f"order not found: {text}")
    if isinstance(exc, ccxt.InvalidOrder):
        return InvalidOrder(f"invalid order: {text}")
    if isinstance(exc, ccxt.BadSymbol):
        return FatalExchangeError(f"unknown market: {text}")
    if isinstance(exc, ccxt.ExchangeError):
        # The exchange answered with an error of its own: it refused this request, nothing changed.
        return InvalidOrder(f"exchange error: {text}")
    return NetworkError(f"unexpected error talking to {exchange_id or 'the exchange'}: {text}")


def reason_of(error: ExchangeError) -> Reason:
    for cls, reason in _REASONS:
        if isinstance(error, cls):
            return reason
    return Reason.EXCHANGE_ERROR


_REASONS: tuple[tuple[type[ExchangeError], Reason], ...] = (
    (KeyRejected, Reason.KEY_OR_IP_REJECTED),
    (IpNotWhitelisted, Reason.IP_NOT_WHITELISTED),
    (NoTradePermission, Reason.NO_TRADE_PERMISSION),
    (PermissionDenied, Reason.NO_TRADE_PERMISSION),
    (AuthenticationError, Reason.BAD_KEY),
    (RateLimitExceeded, Reason.RATE_LIMITED),
    (ClockSkew, Reason.CLOCK_SKEW),
    (NetworkError, Reason.UNREACHABLE),
    (RequestTimeout, Reason.UNREACHABLE),
    (InsufficientFunds, Reason.INSUFFICIENT_FUNDS),
    (InvalidOrder, Reason.INVALID_ORDER),
)
