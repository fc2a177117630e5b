"""The path every other CCXT exchange takes (CCXT's unified `clientOrderId`, cancel by exchange id, the generic
client id rule), run over CCXT's Binance code, which understands the unified parameters too."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.base import InvalidOrder, OrderNotFound, OrderRequest, OrderStatus, OrderType, Side


@pytest.fixture
def generic(binance):
    binance.exchange_id = "binance-as-any-exchange"  # not "binance": the adapter takes its generic path
    return binance


def order(cid: str) -> OrderRequest:
    return OrderRequest(cid, "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.001"), D("29000"))


def test_the_unified_client_order_id_reaches_the_exchange(generic, fake):
    generic.place_order(order("ab7-1"))
    assert fake.sent("POST", "/api/v3/order")[0].params["newClientOrderId"] == "ab7-1"
    assert generic.fetch_order("BTC/USDT", client_order_id="ab7-1").status is OrderStatus.OPEN


def test_a_cancel_finds_the_order_then_cancels_it_by_exchange_id(generic, fake):
    placed = generic.place_order(order("ab7-2"))
    state = generic.cancel_order("BTC/USDT", "ab7-2")
    [cancel] = fake.sent("DELETE", "/api/v3/order")
    assert cancel.params["orderId"] == placed.exchange_order_id
    assert (state.client_order_id, state.status) == ("ab7-2", OrderStatus.CANCELED)
    with pytest.raises(OrderNotFound, match="not open"):
        generic.cancel_order("BTC/USDT", "ab7-2")


def test_an_order_is_found_by_exchange_id_too(generic):
    placed = generic.place_order(order("ab7-3"))
    assert generic.fetch_order("BTC/USDT", exchange_order_id=placed.exchange_order_id).client_order_id == "ab7-3"


def test_other_exchanges_get_the_conservative_client_id_rule(generic, fake):
    with pytest.raises(InvalidOrder, match="1 to 32 characters"):
        generic.place_order(order("x" * 33))
    assert fake.sent("POST", "/api/v3/order") == []
