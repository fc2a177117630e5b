"""Malformed requests get a 400 naming the problem: never a 500, never a half-created row."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from accounts.models import ExchangeAccount
from exchanges.ccxt.client import use_transport
from strategies.models import Strategy
from tests.factories import make_account, make_order, make_paper_account, make_strategy
from tests.offline import Offline
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


# --- issue 9 item 17: no 500 from any input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "model", "body"),
    [
        ("/api/strategies", Strategy, {"name": "twin", "symbol": "BTC/USDT"}),
        ("/api/accounts", ExchangeAccount, {"name": "twin", "exchange": "paper", "paper_balances": {"USDT": "1"}}),
    ],
)
def test_a_name_taken_by_a_racing_request_is_a_400_naming_the_field(alice_client, alice, monkeypatch, url, model, body):
    account = make_paper_account(alice, name="main")
    original_clean = model.clean

    def clean_then_lose_the_race(self):
        # The other request inserts the same name after this one's check passed and before its insert.
        original_clean(self)
        if self.pk is None and not model.objects.filter(name="twin").exists():
            if model is Strategy:
                Strategy.objects.create(owner=alice, account=account, name="twin", symbol="ETH/USDT")
            else:
                ExchangeAccount.objects.create(owner=alice, name="twin", exchange="paper", paper_balances={"USDT": "1"})

    monkeypatch.setattr(model, "clean", clean_then_lose_the_race)
    r = alice_client.post(url, {**body, "account": account.id} if model is Strategy else body, format="json")
    assert r.status_code == 400, r.content
    assert r.json() == {
        "name": [f"You already have {'a strategy' if model is Strategy else 'an account'} named 'twin'."]
    }
    assert model.objects.filter(name="twin").count() == 1


@pytest.mark.parametrize("depth", [941, 5000])
@pytest.mark.parametrize("url", ["/api/accounts", "/api/strategies"])
def test_deeply_nested_json_is_a_400(alice_client, url, depth):
    body = '{"name": "deep", "paper_balances": ' + "[" * depth + "]" * depth + "}"
    r = alice_client.generic("POST", url, body, content_type="application/json")
    assert r.status_code == 400
    assert r.json() == {"detail": "JSON parse error - nested deeper than 32 levels"}
    assert not ExchangeAccount.objects.filter(name="deep").exists()


def test_form_encoded_null_for_a_json_field_is_a_400(alice_client, alice):
    account = make_account(alice, "b", "binance", api_key="k" * 20, api_secret="s" * 20)
    for method in ("post", "patch"):
        url = "/api/accounts" if method == "post" else f"/api/accounts/{account.id}"
        form = {"name": "b2", "exchange": "binance", "api_key": "k" * 20, "api_secret": "s" * 20}
        r = getattr(alice_client, method)(url, {**form, "paper_balances": "null"})  # multipart form
        assert r.status_code == 400, (method, r.content)
        assert r.json() == {"paper_balances": ["This field may not be null."]}
    account.refresh_from_db()
    assert (account.name, account.paper_balances) == ("b", {})


def test_testnet_on_an_exchange_without_a_sandbox_is_refused_when_the_account_is_saved(alice_client):
    body = {"name": "k", "exchange": "kraken", "testnet": True, "api_key": "k" * 20, "api_secret": "s" * 20}
    r = alice_client.post("/api/accounts", body, format="json")
    assert r.status_code == 400
    assert r.json() == {"testnet": ["kraken has no testnet/sandbox that AresBot can use: switch testnet off."]}
    assert alice_client.post("/api/accounts", {**body, "exchange": "binance"}, format="json").status_code == 201


def test_an_account_saved_with_testnet_before_the_rule_answers_verify_and_balance_without_a_500(alice_client, alice):
    account = ExchangeAccount.objects.create(
        owner=alice, name="old", exchange="kraken", testnet=True, api_key="k" * 20, api_secret="s" * 20
    )
    with use_transport(lambda exchange_id, testnet: Offline()):
        verify = alice_client.post(f"/api/accounts/{account.id}/verify")
        balance = alice_client.get(f"/api/accounts/{account.id}/balance")
    assert verify.status_code == 200
    assert verify.json()["ok"] is False
    assert "no testnet/sandbox" in verify.json()["detail"]
    assert balance.status_code == 502
    assert "no testnet/sandbox" in balance.json()["detail"]


def test_an_oversized_body_is_a_json_413_naming_the_limit(alice_client, settings):
    body = json.dumps({"name": "big", "exchange": "paper", "paper_balances": {"USDT": "1"}, "pad": "x" * 300_000})
    r = alice_client.generic("POST", "/api/accounts", body, content_type="application/json")
    assert r.status_code == 413
    assert r.json() == {
        "detail": f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes, the most this "
        "server accepts."
    }
    assert ExchangeAccount.objects.count() == 0


@pytest.mark.parametrize("field", ["grid_levels", "order_size_quote", "max_positions", "account"])
def test_a_5000_digit_number_is_a_400_naming_the_field(alice_client, alice, field):
    account = make_paper_account(alice)
    body = json.dumps({"name": "g", "account": account.id, "symbol": "BTC/USDT"})[:-1] + f', "{field}": {"9" * 5000}}}'
    r = alice_client.generic("POST", "/api/strategies", body, content_type="application/json")
    assert r.status_code == 400
    assert list(r.json()) == [field]
    assert not Strategy.objects.exists()


def test_a_5000_digit_starting_balance_is_a_400_naming_the_field(alice_client):
    body = '{"name": "p", "exchange": "paper", "paper_balances": {"USDT": ' + "9" * 5000 + "}}"
    r = alice_client.generic("POST", "/api/accounts", body, content_type="application/json")
    assert r.status_code == 400
    assert list(r.json()) == ["paper_balances"]
