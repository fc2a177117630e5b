"""Exchange accounts through the API: validation, write-only secrets, deletion rules."""

from __future__ import annotations

import pytest

from accounts.models import ExchangeAccount
from tests.factories import make_paper_account, make_strategy

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def test_it_creates_a_binance_account_and_shows_only_masks(alice_client):
    r = alice_client.post(
        "/api/accounts",
        {"name": "Main", "exchange": "binance", "api_key": API_KEY, "api_secret": API_SECRET},
        format="json",
    )
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["api_key_masked"] == "****Eh8A"
    assert body["api_secret_masked"] == "****Tj0j"
    assert body["passphrase_masked"] is None
    assert "api_key" not in body and "api_secret" not in body
    assert API_SECRET not in r.content.decode() and API_KEY not in r.content.decode()


def test_it_creates_a_paper_account_with_normalised_balances(alice_client):
    r = alice_client.post(
        "/api/accounts",
        {"name": "Paper", "exchange": "PAPER", "paper_balances": {"usdt": 10000, "btc": "0.5"}},
        format="json",
    )
    assert r.status_code == 201, r.json()
    assert r.json()["exchange"] == "paper"
    assert r.json()["paper_balances"] == {"USDT": "10000", "BTC": "0.5"}


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        ({"name": "x", "exchange": "notanexchange"}, "exchange", "Unknown exchange 'notanexchange'"),
        ({"name": "x", "exchange": "binance", "api_key": "k" * 20}, "api_secret", "binance requires this credential"),
        ({"name": "x", "exchange": "okx", "api_key": "k" * 20, "api_secret": "s" * 20}, "passphrase", "okx requires"),
        ({"name": "x", "exchange": "paper", "paper_balances": {}}, "paper_balances", "at least one starting balance"),
        ({"name": "x", "exchange": "paper", "paper_balances": {"USDT": "-1"}}, "paper_balances", "between 0 and"),
        ({"name": "x", "exchange": "paper", "paper_balances": {"USDT": "abc"}}, "paper_balances", "must be a number"),
        ({"name": "x", "exchange": "paper", "paper_balances": {"US DT": "1"}}, "paper_balances", "not a currency code"),
        ({"name": "x", "exchange": "paper", "paper_balances": ["USDT"]}, "paper_balances", "at least one"),
        ({"name": "x", "exchange": "paper", "paper_balances": {"USDT": "1"}, "api_key": "k"}, "api_key", "Paper"),
        ({"name": "x", "exchange": "paper", "paper_balances": {"USDT": "1"}, "testnet": True}, "testnet", "no testnet"),
        (
            {"name": "x", "exchange": "binance", "api_key": "k", "api_secret": "s", "paper_balances": {"USDT": "1"}},
            "paper_balances",
            "Only paper accounts",
        ),
        ({"name": "x", "exchange": "binance", "api_key": " k", "api_secret": "s"}, "api_key", "whitespace"),
        ({"name": "x", "exchange": "binance", "api_key": "k" * 513, "api_secret": "s"}, "api_key", "at most 512"),
        ({"name": "   ", "exchange": "paper", "paper_balances": {"USDT": "1"}}, "name", ""),
        ({"name": "x" * 101, "exchange": "paper", "paper_balances": {"USDT": "1"}}, "name", "100"),
    ],
)
def test_it_rejects_bad_account_input_naming_the_field(alice_client, data, field, fragment):
    r = alice_client.post("/api/accounts", data, format="json")
    assert r.status_code == 400
    assert field in r.json(), r.json()
    assert fragment in " ".join(r.json()[field])
    assert ExchangeAccount.objects.count() == 0


def test_omitting_a_secret_on_update_keeps_it_and_an_empty_string_clears_it(alice_client):
    r = alice_client.post(
        "/api/accounts",
        {"name": "Main", "exchange": "kraken", "api_key": API_KEY, "api_secret": API_SECRET},
        format="json",
    )
    account_id = r.json()["id"]
    r = alice_client.patch(f"/api/accounts/{account_id}", {"name": "Renamed"}, format="json")
    assert r.status_code == 200
    assert r.json()["api_secret_masked"] == "****Tj0j"
    r = alice_client.patch(f"/api/accounts/{account_id}", {"api_secret": ""}, format="json")
    assert r.status_code == 400  # kraken needs a secret
    assert "api_secret" in r.json()
    r = alice_client.patch(f"/api/accounts/{account_id}", {"api_secret": "new-secret-value-0000"}, format="json")
    assert r.status_code == 200
    assert r.json()["api_secret_masked"] == "****0000"


def test_deleting_an_account_with_strategies_is_refused(alice_client, alice):
    account = make_paper_account(alice)
    make_strategy(alice, account)
    r = alice_client.delete(f"/api/accounts/{account.id}")
    assert r.status_code == 409
    assert "has 1 strategy" in r.json()["detail"]
    assert ExchangeAccount.objects.filter(pk=account.pk).exists()


def test_deleting_an_account_without_strategies_works(alice_client, alice):
    account = make_paper_account(alice)
    assert alice_client.delete(f"/api/accounts/{account.id}").status_code == 204
    assert not ExchangeAccount.objects.filter(pk=account.pk).exists()


def test_the_exchange_of_an_account_with_strategies_cannot_change(alice_client, alice):
    account = make_paper_account(alice)
    make_strategy(alice, account)
    r = alice_client.patch(
        f"/api/accounts/{account.id}",
        {"exchange": "binance", "paper_balances": {}, "api_key": "k" * 20, "api_secret": "s" * 20},
        format="json",
    )
    assert r.status_code == 400
    assert "cannot change" in r.json()["exchange"][0]


def test_the_list_is_a_fixed_number_of_queries(alice_client, alice, django_assert_max_num_queries):
    for i in range(15):
        account = make_paper_account(alice, name=f"p{i}")
        make_strategy(alice, account, name=f"s{i}")
    with django_assert_max_num_queries(3):
        r = alice_client.get("/api/accounts?page_size=100")
    assert r.json()["count"] == 15
    assert all(item["strategy_count"] == 1 for item in r.json()["results"])
