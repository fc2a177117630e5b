"""Orders through real CCXT Binance code, its HTTP answered by the fake Binance: what is signed and sent, and
that an order whose answer is lost is looked up, never sent a second time."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.base import (
    BelowMinimum,
    InvalidOrder,
    OrderNotFound,
    OrderRequest,
    OrderStatus,
    OrderType,
    RequestTimeout,
    RetryableError,
    Side,
)
from tests.ccxt.fake_binance import API_KEY, Reply, Timeout


def buy(cid: str = "ab7-1", amount: str = "0.001", price: str | None = "29000") -> OrderRequest:
    kind = OrderType.LIMIT if price is not None else OrderType.MARKET
    return OrderRequest(cid, "BTC/USDT", Side.BUY, kind, D(amount), D(price) if price is not None else None)


def test_a_limit_buy_is_signed_and_carries_the_client_id_symbol_side_price_and_quantity(binance, fake):
    state = binance.place_order(buy("ab7-1", amount="0.00123456", price="29000.009"))
    [sent] = fake.sent("POST", "/api/v3/order")
    assert sent.api_key == API_KEY
    assert sent.params["signature"]
    assert {k: sent.params[k] for k in ("symbol", "side", "type", "timeInForce", "quantity", "price")} == {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.00123",  # rounded down to the 0.00001 step
        "price": "29000",  # rounded down to the 0.01 tick: a buy never pays more than asked
    }
    assert sent.params["newClientOrderId"] == "ab7-1"
    assert "clientOrderId" not in sent.params
    assert (state.client_order_id, state.exchange_order_id, state.status) == ("ab7-1", "1000", OrderStatus.OPEN)
    assert (state.price, state.amount, state.filled) == (D("29000"), D("0.00123"), D(0))


def test_a_sell_price_between_ticks_rounds_up(binance, fake):
    binance.place_order(OrderRequest("ab7-2", "BTC/USDT", Side.SELL, OrderType.LIMIT, D("0.001"), D("30100.001")))
    assert fake.sent("POST", "/api/v3/order")[0].params["price"] == "30100.01"


def test_a_market_order_sends_a_quantity_and_no_price(binance, fake):
    state = binance.place_order(buy("ab7-3", amount="0.0005", price=None))
    params = fake.sent("POST", "/api/v3/order")[0].params
    assert (params["type"], params["quantity"], "price" in params) == ("MARKET", "0.0005", False)
    assert state.status is OrderStatus.FILLED
    assert [(t.price, t.amount, t.fee, t.fee_currency) for t in state.trades] == [
        (D("30000"), D("0.0005"), D("0.0000005"), "BTC")
    ]


def test_an_order_is_found_by_its_client_id(binance, fake):
    binance.place_order(buy("ab7-4"))
    state = binance.fetch_order("BTC/USDT", client_order_id="ab7-4")
    [lookup] = fake.sent("GET", "/api/v3/order")
    assert (lookup.params["origClientOrderId"], lookup.params["symbol"]) == ("ab7-4", "BTCUSDT")
    assert "orderId" not in lookup.params
    assert (state.client_order_id, state.status) == ("ab7-4", OrderStatus.OPEN)


def test_an_unknown_client_id_is_order_not_found(binance):
    with pytest.raises(OrderNotFound, match="-2013"):
        binance.fetch_order("BTC/USDT", client_order_id="ab7-404")


def test_a_cancel_by_client_id_returns_the_final_state_under_the_orders_own_id(binance, fake):
    binance.place_order(buy("ab7-5"))
    state = binance.cancel_order("BTC/USDT", "ab7-5")
    [sent] = fake.sent("DELETE", "/api/v3/order")
    assert sent.params["origClientOrderId"] == "ab7-5"
    # Binance's cancel answer names the cancel request "cancel1000"; the state keeps the order's id.
    assert (state.client_order_id, state.status) == ("ab7-5", OrderStatus.CANCELED)
    assert fake.balances["USDT"] == [D("10000"), D(0)]


def test_cancelling_an_order_that_already_filled_is_order_not_found(binance, fake):
    binance.place_order(buy("ab7-6"))
    fake.set_price("BTCUSDT", "28990")
    with pytest.raises(OrderNotFound, match="-2011"):
        binance.cancel_order("BTC/USDT", "ab7-6")
    state = binance.fetch_order("BTC/USDT", client_order_id="ab7-6")
    assert state.status is OrderStatus.FILLED
    assert [(t.trade_id, t.price, t.amount, t.fee_currency) for t in state.trades] == [
        ("5001", D("29000"), D("0.001"), "BTC")
    ]
    assert (state.fee, state.average_price) == (D("0.000001"), D("29000"))


def test_open_orders_list_only_resting_orders(binance, fake):
    binance.place_order(buy("ab7-7", price="29000"))
    binance.place_order(buy("ab7-8", price="28000"))
    fake.set_price("BTCUSDT", "28500")
    assert [s.client_order_id for s in binance.fetch_open_orders("BTC/USDT")] == ["ab7-8"]


def test_a_read_timeout_after_the_order_was_accepted_is_resolved_by_lookup_not_by_a_second_order(binance, fake, sleeps):
    fake.script("POST", "/api/v3/order", Timeout(after=True))
    state = binance.place_order(buy("ab7-9"))
    assert len(fake.sent("POST", "/api/v3/order")) == 1
    assert [r.params["origClientOrderId"] for r in fake.sent("GET", "/api/v3/order")] == ["ab7-9"]
    assert (state.client_order_id, state.status) == ("ab7-9", OrderStatus.OPEN)
    assert sleeps == [0.25]


def test_an_order_that_shows_up_late_is_found_by_repeated_lookups(binance, fake, sleeps):
    fake.script("POST", "/api/v3/order", Timeout(after=True))
    fake.hidden_lookups = 2
    state = binance.place_order(buy("ab7-10"))
    assert state.status is OrderStatus.OPEN
    assert len(fake.sent("GET", "/api/v3/order")) == 3
    assert len(fake.sent("POST", "/api/v3/order")) == 1
    assert sleeps == [0.25, 0.5, 1.0]


def test_an_order_never_seen_after_a_timeout_is_left_to_reconcile_and_not_resent(binance, fake, sleeps):
    fake.script("POST", "/api/v3/order", Timeout(after=False))
    with pytest.raises(RequestTimeout, match="Reconcile before sending it again"):
        binance.place_order(buy("ab7-11"))
    assert len(fake.sent("POST", "/api/v3/order")) == 1
    assert len(fake.sent("GET", "/api/v3/order")) == len(binance.lookup_delays)
    assert binance.order_visibility_delay.total_seconds() >= sum(sleeps)


def test_execution_status_unknown_is_looked_up_too(binance, fake):
    fake.script("POST", "/api/v3/order", fake.error("unknown_status"))
    with pytest.raises(RetryableError):
        binance.place_order(buy("ab7-12"))
    assert len(fake.sent("POST", "/api/v3/order")) == 1
    assert {r.params["origClientOrderId"] for r in fake.sent("GET", "/api/v3/order")} == {"ab7-12"}


def test_a_duplicate_client_id_answers_with_the_existing_order(binance, fake):
    first = binance.place_order(buy("ab7-13"))
    again = binance.place_order(buy("ab7-13"))
    assert again.exchange_order_id == first.exchange_order_id
    assert len(fake.orders) == 1


@pytest.mark.parametrize("cid", ["ab 7-1", "ab7#1", "x" * 37, "", "ab7-1é"])
def test_a_client_id_outside_binances_alphabet_is_refused_before_sending(binance, fake, cid):
    with pytest.raises(InvalidOrder, match="not valid on binance"):
        binance.place_order(buy(cid))
    assert fake.sent("POST", "/api/v3/order") == []


def test_the_longest_allowed_client_id_is_sent_unchanged(binance, fake):
    cid = "ab123456789-" + "A.:/_-z9" * 3
    assert len(cid) == 36
    binance.place_order(buy(cid))
    assert fake.sent("POST", "/api/v3/order")[0].params["newClientOrderId"] == cid


@pytest.mark.parametrize(
    ("amount", "price", "error", "message"),
    [
        ("0.000004", "29000", BelowMinimum, "BTC/USDT: amount 0.000004 rounds to 0 at the step size 0.00001 BTC"),
        (
            "0.0003",
            "29000",
            BelowMinimum,
            "BTC/USDT: notional 8.7 USDT (0.0003 × 29000) is below the minimum notional 10 USDT",
        ),
        ("9001", "29000", InvalidOrder, "BTC/USDT: amount 9001 is above the maximum amount 9000 BTC"),
        ("0.001", "2000000", InvalidOrder, "BTC/USDT: price 2000000 is above the maximum price 1000000"),
    ],
)
def test_an_order_outside_the_market_limits_is_refused_naming_symbol_value_and_limit(
    binance, fake, amount, price, error, message
):
    with pytest.raises(error) as caught:
        binance.place_order(buy("ab7-20", amount=amount, price=price))
    assert str(caught.value) == message
    assert fake.sent("POST", "/api/v3/order") == []


def test_insufficient_balance_comes_back_as_insufficient_funds(binance, fake):
    from exchanges.base import InsufficientFunds

    with pytest.raises(InsufficientFunds, match="insufficient balance"):
        binance.place_order(buy("ab7-21", amount="1", price="29000"))


def test_the_balance_lists_non_zero_assets_free_and_locked(binance):
    binance.place_order(buy("ab7-22", amount="0.01", price="29000"))
    balances = binance.fetch_balance()
    assert set(balances) == {"BTC", "USDT"}
    assert (balances["USDT"].free, balances["USDT"].locked) == (D("9710"), D("290"))


def test_the_price_is_the_tickers_last_price(binance, fake):
    fake.prices["BTCUSDT"] = D("31234.56")
    assert binance.fetch_price("BTC/USDT") == D("31234.56")
    assert fake.sent("GET", "/api/v3/ticker/24hr")[0].params == {"symbol": "BTCUSDT"}


def test_a_price_read_is_retried_with_backoff_after_a_timeout(binance, fake, sleeps):
    fake.script("GET", "/api/v3/ticker/24hr", Timeout(after=False), Reply(503, {"code": -1001, "msg": "Internal"}))
    assert binance.fetch_price("BTC/USDT") == D("30000")
    assert len(sleeps) == 2 and 0.005 <= sleeps[0] <= 0.01 and 0.01 <= sleeps[1] <= 0.02


def test_a_price_read_gives_up_after_its_attempts(binance, fake):
    from exchanges.base import NetworkError

    fake.script("GET", "/api/v3/ticker/24hr", *[Timeout(after=False)] * 3)
    with pytest.raises(RequestTimeout):
        binance.fetch_price("BTC/USDT")
    assert issubclass(RequestTimeout, RetryableError) and not issubclass(NetworkError, RequestTimeout)
