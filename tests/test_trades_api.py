"""Trades (fills) and their statistics, from hand-made records whose figures can be checked by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.factories import make_fill, make_order, make_paper_account, make_position, make_strategy

D = Decimal


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def round_trip(strategy, buy: str, sell: str, amount: str, fee_rate: str, bought: datetime, sold: datetime):
    """A lot bought and sold, fees paid in quote; returns the position with its net PnL."""
    entry = make_order(strategy, "buy", buy, amount)
    exit_ = make_order(strategy, "sell", sell, amount)
    quote = strategy.symbol.split("/")[1]
    buy_fee = D(buy) * D(amount) * D(fee_rate)
    sell_fee = D(sell) * D(amount) * D(fee_rate)
    make_fill(entry, bought, fee=buy_fee, fee_currency=quote)
    make_fill(exit_, sold, fee=sell_fee, fee_currency=quote)
    pnl = (D(sell) - D(buy)) * D(amount) - buy_fee - sell_fee
    return make_position(
        entry,
        bought,
        exit_order=exit_,
        entry_fee_quote=buy_fee,
        exit_fee_quote=sell_fee,
        closed_at=sold,
        exit_price=D(sell),
        realized_pnl=pnl,
        exit_reason="take_profit" if pnl > 0 else "stop_loss",
    )


@pytest.fixture
def history(alice):
    account = make_paper_account(alice)
    btc = make_strategy(alice, account, name="btc", symbol="BTC/USDT")
    eth = make_strategy(alice, account, name="ethbtc", symbol="ETH/BTC")
    # Day 1 in Asia/Shanghai (UTC+8): 2024-03-01. 15:59 UTC is 23:59 local, still the 1st.
    round_trip(btc, "60000", "60600", "0.001", "0.001", utc(2024, 3, 1, 1, 0), utc(2024, 3, 1, 15, 59))
    # 16:00 UTC on the 1st is 00:00 on the 2nd in Shanghai: this loss belongs to 2024-03-02.
    round_trip(btc, "61000", "60000", "0.002", "0.001", utc(2024, 3, 1, 10, 0), utc(2024, 3, 1, 16, 0))
    round_trip(eth, "0.05", "0.0505", "1", "0.001", utc(2024, 3, 2, 1, 0), utc(2024, 3, 2, 2, 0))
    # An open lot: a buy fill, no exit yet.
    entry = make_order(btc, "buy", "59000", "0.001")
    make_fill(entry, utc(2024, 3, 2, 3, 0), fee=D("0.059"), fee_currency="USDT")
    make_position(entry, utc(2024, 3, 2, 3, 0))
    return btc, eth


def test_stats_add_up_by_hand(alice_client, history):
    s = alice_client.get("/api/trades/stats").json()
    assert (s["count"], s["buys"], s["sells"]) == (7, 4, 3)
    # USDT volume: 60 + 60.6 + 122 + 120 + 59 = 421.6 ; BTC volume: 0.05 + 0.0505 = 0.1005
    assert s["volume"] == {"BTC": "0.1005", "USDT": "421.6"}
    # USDT fees: 0.06 + 0.0606 + 0.122 + 0.12 + 0.059 = 0.4216 ; BTC fees: 0.00005 + 0.0000505
    assert s["fees"] == {"BTC": "0.0001005", "USDT": "0.4216"}
    # USDT PnL: (0.6 - 0.1206) + (-2 - 0.242) = 0.4794 - 2.242 = -1.7626 ; BTC: 0.0005 - 0.0001005 = 0.0003995
    assert s["realized_pnl"] == {"BTC": "0.0003995", "USDT": "-1.7626"}
    assert (s["closed_positions"], s["wins"], s["losses"]) == (3, 2, 1)
    assert s["win_rate"] == "0.6667"
    assert s["time_zone"] == "Asia/Shanghai"
    assert s["pnl_per_day"] == [
        {"date": "2024-03-01", "currency": "USDT", "realized_pnl": "0.4794", "closed_positions": 1},
        {"date": "2024-03-02", "currency": "BTC", "realized_pnl": "0.0003995", "closed_positions": 1},
        {"date": "2024-03-02", "currency": "USDT", "realized_pnl": "-2.242", "closed_positions": 1},
    ]


def test_stats_follow_the_filters(alice_client, history):
    _, eth = history
    s = alice_client.get(f"/api/trades/stats?strategy={eth.id}").json()
    assert s["count"] == 2
    assert s["realized_pnl"] == {"BTC": "0.0003995"}
    s = alice_client.get("/api/trades/stats?side=sell").json()
    assert (s["count"], s["buys"], s["sells"]) == (3, 0, 3)
    # the local day 2024-03-02 starts at 2024-03-01T16:00Z
    s = alice_client.get("/api/trades/stats?since=2024-03-02T00:00:00%2B08:00").json()
    assert s["closed_positions"] == 2
    assert s["count"] == 4  # the 16:00Z sell, the ETH/BTC round trip and the open buy
    s = alice_client.get("/api/trades/stats?until=2024-03-01T16:00:00Z").json()
    assert s["closed_positions"] == 1
    assert s["realized_pnl"] == {"USDT": "0.4794"}
    s = alice_client.get("/api/trades/stats?symbol=btc/usdt").json()
    assert s["count"] == 5


def test_empty_stats_have_no_win_rate(alice_client, alice):
    s = alice_client.get("/api/trades/stats").json()
    assert s["count"] == 0
    assert s["win_rate"] is None
    assert s["pnl_per_day"] == []


def test_trades_list_is_newest_first_filtered_and_paginated(alice_client, history, django_assert_max_num_queries):
    btc, _ = history
    with django_assert_max_num_queries(2):
        r = alice_client.get("/api/trades?page_size=3")
    body = r.json()
    assert body["count"] == 7
    assert len(body["results"]) == 3
    times = [t["executed_at"] for t in body["results"]]
    assert times == sorted(times, reverse=True)
    first = body["results"][0]
    assert first["symbol"] == "BTC/USDT"
    assert first["quote_amount"].rstrip("0").rstrip(".") == "59"
    assert alice_client.get("/api/trades?side=buy").json()["count"] == 4
    assert alice_client.get(f"/api/trades?strategy={btc.id}&side=sell").json()["count"] == 2
    r = alice_client.get("/api/trades?since=2024-03-02T00:00:00Z&until=2024-03-02T02:30:00Z")
    assert r.json()["count"] == 2
