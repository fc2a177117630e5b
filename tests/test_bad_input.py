"""Malformed requests get a 400 naming the problem: never a 500, never a half-created row."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from accounts.models import ExchangeAccount
from strategies.models import Strategy
from tests.factories import make_order, make_paper_account, make_strategy
from trading.models import Fill


@pytest.mark.parametrize("url", ["/api/accounts", "/api/strategies"])
def test_malformed_json_is_a_400(alice_client, url):
    r = alice_client.generic("POST", url, "{not json", content_type="application/json")
    assert r.status_code == 400
    assert "JSON parse error" in r.json()["detail"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("grid_levels", "five"),
        ("grid_levels", 2.5),
        ("grid_levels", [5]),
        ("buy_offset_pct", "1%"),
        ("buy_offset_pct", {"value": 1}),
        ("order_size_quote", "NaN"),
        ("order_size_quote", "Infinity"),
        ("order_size_quote", "1e400"),
        ("loop_interval", True),
        ("account", "abc"),
        ("account", 10**20),
        ("symbol", 12345),
        ("name", None),
    ],
)
def test_wrong_types_name_the_field(alice_client, alice, field, value):
    account = make_paper_account(alice)
    data = {"name": "g", "account": account.id, "symbol": "BTC/USDT", field: value}
    r = alice_client.post("/api/strategies", data, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()
    assert not Strategy.objects.exists()


def test_a_json_array_body_is_refused(alice_client):
    r = alice_client.post("/api/accounts", [1, 2, 3], format="json")
    assert r.status_code == 400
    assert ExchangeAccount.objects.count() == 0


def test_a_huge_payload_is_refused_without_a_row(alice_client):
    body = json.dumps({"name": "big", "exchange": "paper", "paper_balances": {"USDT": "1"}, "pad": "x" * 400_000})
    r = alice_client.generic("POST", "/api/accounts", body, content_type="application/json")
    assert r.status_code in (400, 413)
    assert ExchangeAccount.objects.count() == 0


def test_unknown_fields_are_ignored_not_stored(alice_client):
    r = alice_client.post(
        "/api/accounts",
        {"name": "p", "exchange": "paper", "paper_balances": {"USDT": "1"}, "owner": 999},
        format="json",
    )
    assert r.status_code == 201
    assert ExchangeAccount.objects.get().owner.username == "alice"


@pytest.mark.parametrize("query", ["since=yesterday", "until=2024-13-01", "side=hold", "strategy=abc"])
def test_bad_trade_filters_are_a_400(alice_client, query):
    for url in ("/api/trades", "/api/trades/stats"):
        r = alice_client.get(f"{url}?{query}")
        assert r.status_code == 400, (url, query)
        assert query.split("=")[0] in r.json()


def test_page_size_is_capped_with_a_400_naming_the_range(alice_client, alice):
    order = make_order(make_strategy(alice, make_paper_account(alice)), "buy", "100", "1")
    now = timezone.now()
    Fill.objects.bulk_create(
        Fill(order=order, strategy=order.strategy, side="buy", trade_id=f"t{i}", price=1, amount=1, executed_at=now)
        for i in range(501)
    )
    r = alice_client.get("/api/trades?page_size=500")
    assert (r.json()["count"], len(r.json()["results"])) == (501, 500)
    r = alice_client.get("/api/trades?page_size=100000")
    assert r.status_code == 400  # not silently fewer than asked
    assert r.json() == {"page_size": ["Must be a whole number from 1 to 500."]}
