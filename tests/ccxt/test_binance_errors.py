"""Binance's error answers, through CCXT's own handle_errors, land in the core's error classes — scrubbed of
credentials; 429 and 418 make every worker on the IP wait for Retry-After."""

from __future__ import annotations

from decimal import Decimal as D

import ccxt
import pytest

from exchanges.base import (
    AuthenticationError,
    BelowMinimum,
    ExchangeUnavailable,
    FatalExchangeError,
    InsufficientFunds,
    InvalidOrder,
    NetworkError,
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    OrderType,
    PermissionDenied,
    RateLimitExceeded,
    RequestTimeout,
    RetryableError,
    Side,
)
from exchanges.ccxt.errors import (
    ClockSkew,
    IpBanned,
    IpNotWhitelisted,
    KeyRejected,
    Reason,
    classify,
    reason_of,
    scrub,
)
from tests.ccxt.conftest import binance_adapter
from tests.ccxt.fake_binance import API_KEY, API_SECRET, Reply

ORDER = OrderRequest("ab7-1", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.001"), D("29000"))


@pytest.mark.parametrize(
    ("error", "expected", "reason"),
    [
        ("insufficient_balance", InsufficientFunds, Reason.INSUFFICIENT_FUNDS),
        ("filter_min_notional", BelowMinimum, Reason.INVALID_ORDER),
        ("filter_price", InvalidOrder, Reason.INVALID_ORDER),
        ("filter_lot_size", InvalidOrder, Reason.INVALID_ORDER),
        ("timestamp", ClockSkew, Reason.CLOCK_SKEW),
        ("signature", AuthenticationError, Reason.BAD_KEY),
        ("key_format", AuthenticationError, Reason.BAD_KEY),
        ("key_rejected", KeyRejected, Reason.KEY_OR_IP_REJECTED),
        ("too_much_weight", RateLimitExceeded, Reason.RATE_LIMITED),
        ("ip_banned", IpBanned, Reason.RATE_LIMITED),
    ],
)
def test_an_error_answer_to_a_new_order_maps_to_the_core_class(binance, fake, error, expected, reason):
    fake.script("POST", "/api/v3/order", fake.error(error, {"Retry-After": "1"}))
    with pytest.raises(expected) as caught:
        binance.place_order(ORDER)
    assert reason_of(caught.value) is reason
    # Each of these was refused before it took effect: no lookup, and certainly no second order.
    assert len(fake.sent("POST", "/api/v3/order")) == 1
    assert fake.sent("GET", "/api/v3/order") == []


def test_the_engine_reacts_to_the_classes_as_the_issue_says():
    assert issubclass(InsufficientFunds, OrderRejected)  # pause new buys
    assert issubclass(BelowMinimum, OrderRejected) and issubclass(InvalidOrder, OrderRejected)  # skip the level
    assert issubclass(KeyRejected, FatalExchangeError)  # stop the strategy with the message
    assert issubclass(ClockSkew, RetryableError) and issubclass(IpBanned, RetryableError)  # back off, reconcile


def test_a_timestamp_error_resyncs_the_clock_with_the_server(binance, fake):
    fake.script("POST", "/api/v3/order", fake.error("timestamp"))
    with pytest.raises(ClockSkew):
        binance.place_order(ORDER)
    assert len(fake.sent("GET", "/api/v3/time")) == 1
    assert binance.client.options["adjustForTimeDifference"] is True


def test_cancel_of_an_unknown_order_and_lookup_of_a_missing_one_are_order_not_found(binance, fake):
    fake.script("DELETE", "/api/v3/order", fake.error("cancel_unknown"))
    with pytest.raises(OrderNotFound):
        binance.cancel_order("BTC/USDT", "ab7-1")
    fake.script("GET", "/api/v3/order", fake.error("order_missing"))
    with pytest.raises(OrderNotFound):
        binance.fetch_order("BTC/USDT", client_order_id="ab7-1")


@pytest.mark.parametrize(("error", "retry_after"), [("too_much_weight", "7"), ("ip_banned", "120")])
def test_429_and_418_make_every_worker_on_the_ip_wait_for_retry_after(
    binance, fake, redis_client, limiter, scope, sleeps, error, retry_after
):
    fake.script("GET", "/api/v3/ticker/24hr", fake.error(error, {"Retry-After": retry_after}))
    with pytest.raises(RateLimitExceeded):
        binance.fetch_price("BTC/USDT")  # a 5 s max wait cannot outlast the ban: the retry gives up at once
    ban_key = f"ratelimit:binance:ip:{scope}:ban"
    assert int(retry_after) * 1000 - 1500 < redis_client.pttl(ban_key) <= int(retry_after) * 1000 + 1000
    assert len(fake.sent("GET", "/api/v3/ticker/24hr")) == 1
    other_worker = binance_adapter(limiter, scope, sleeps)  # another process on the same IP
    with pytest.raises(RateLimitExceeded, match="a ban on ratelimit:binance:ip:"):
        other_worker.fetch_balance()
    assert fake.sent("GET", "/api/v3/account") == []


def test_a_bad_key_is_fatal_with_a_clear_message_and_no_secret(binance, fake):
    binance.client.apiKey = "WRONG" + API_KEY[5:]
    with pytest.raises(KeyRejected) as caught:
        binance.fetch_balance()
    message = str(caught.value)
    assert "IP is not on the key's whitelist" in message
    assert "signature=" not in message.replace("signature=[redacted]", "")
    for secret in (API_KEY, API_SECRET, binance.client.apiKey):
        assert secret not in message


def test_scrub_removes_signed_query_strings_and_known_secrets():
    text = (
        "binance GET https://api.binance.com/api/v3/account?timestamp=1&recvWindow=10000&signature=abc123 "
        f"401 Unauthorized apiKey={API_KEY} {API_SECRET}"
    )
    cleaned = scrub(text, [API_SECRET])
    assert "abc123" not in cleaned and API_KEY not in cleaned and API_SECRET not in cleaned
    assert "https://api.binance.com/api/v3/account?[params]" in cleaned


def test_errors_outside_ccxt_are_retryable_network_errors():
    assert isinstance(classify(ConnectionResetError("reset")), NetworkError)


def test_an_unexpected_exchange_error_on_an_order_is_a_rejection(binance, fake):
    fake.script("POST", "/api/v3/order", Reply(400, {"code": -1102, "msg": "Mandatory parameter 'x' was not sent."}))
    with pytest.raises(OrderRejected):
        binance.place_order(ORDER)


@pytest.mark.parametrize(
    ("raised", "expected", "reason"),
    [
        (
            ccxt.PermissionDenied(
                'okx {"code":"50110","msg":"Your IP 1.2.3.4 is not in your API key\'s IP whitelist"}'
            ),
            IpNotWhitelisted,
            Reason.IP_NOT_WHITELISTED,
        ),
        (ccxt.PermissionDenied("bybit no trade permission"), PermissionDenied, Reason.NO_TRADE_PERMISSION),
        (ccxt.AuthenticationError("kraken EAPI:Invalid key"), AuthenticationError, Reason.BAD_KEY),
        (ccxt.ExchangeNotAvailable("kucoin 503 Service Unavailable"), ExchangeUnavailable, Reason.UNREACHABLE),
        (ccxt.OnMaintenance("okx system maintenance"), ExchangeUnavailable, Reason.UNREACHABLE),
        (
            ccxt.RequestTimeout("kraken POST https://api.kraken.com/0/private/AddOrder"),
            RequestTimeout,
            Reason.UNREACHABLE,
        ),
        (ccxt.DDoSProtection("kraken EAPI:Rate limit exceeded"), RateLimitExceeded, Reason.RATE_LIMITED),
        (ccxt.InvalidNonce("kraken EAPI:Invalid nonce"), ClockSkew, Reason.CLOCK_SKEW),
        (ccxt.InsufficientFunds("kraken EOrder:Insufficient funds"), InsufficientFunds, Reason.INSUFFICIENT_FUNDS),
        (ccxt.OrderNotFound("kraken EOrder:Unknown order"), OrderNotFound, Reason.EXCHANGE_ERROR),
        (ccxt.BadSymbol("kraken does not have market symbol FOO/BAR"), FatalExchangeError, Reason.EXCHANGE_ERROR),
    ],
)
def test_ccxts_exception_tree_maps_onto_the_core_classes_for_any_exchange(raised, expected, reason):
    error = classify(raised, exchange_id="other")
    assert type(error) is expected
    assert reason_of(error) is reason
