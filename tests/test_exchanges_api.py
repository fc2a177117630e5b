"""GET /api/exchanges and /api/exchanges/{id}/markets: what an account form and a symbol picker offer."""

from __future__ import annotations

import json

import ccxt
import pytest

from exchanges import registry
from trading.api import exchanges as exchanges_api


@pytest.fixture
def fresh_catalog(redis_client):
    exchanges_api.catalog.cache_clear()
    yield
    exchanges_api.catalog.cache_clear()


def test_the_exchanges_are_paper_and_every_ccxt_exchange_with_what_each_needs(alice_client, fresh_catalog):
    listed = alice_client.get("/api/exchanges").json()
    assert [e["id"] for e in listed] == ["paper", *sorted(ccxt.exchanges)]
    by_id = {e["id"]: e for e in listed}
    assert by_id["paper"] == {
        "id": "paper",
        "name": "Paper trading",
        "paper": True,
        "testnet": False,
        "api_key": False,
        "secret": False,
        "passphrase": False,
    }
    assert by_id["binance"] == {
        "id": "binance",
        "name": "Binance",
        "paper": False,
        "testnet": True,
        "api_key": True,
        "secret": True,
        "passphrase": False,
    }
    assert (by_id["okx"]["passphrase"], by_id["okx"]["testnet"]) == (True, True)
    assert by_id["kucoin"]["passphrase"] is True
    assert by_id["kraken"]["testnet"] is False


def test_the_exchange_list_is_made_once_for_every_process(alice_client, fresh_catalog, redis_client, monkeypatch):
    first = alice_client.get("/api/exchanges").json()
    assert json.loads(redis_client.get(f"exchanges:catalog:{ccxt.__version__}")) == first
    exchanges_api.catalog.cache_clear()  # another process

    def no_instances(exchange_id: str) -> None:
        raise AssertionError("the list is read from Redis, not made again")

    monkeypatch.setattr(registry, "describe", no_instances)
    assert alice_client.get("/api/exchanges").json() == first


def market(client, exchange: str, query: str = "") -> dict:
    r = client.get(f"/api/exchanges/{exchange}/markets{query}")
    assert r.status_code == 200, r.content
    return r.json()


def test_binance_markets_with_their_rules_found_by_part_of_a_symbol(alice_client, offline_exchanges, redis_client):
    page = market(alice_client, "binance", "?search=btc")
    assert [m["symbol"] for m in page["results"]] == ["BTC/USDT", "ETH/BTC"]
    assert page["results"][0] == {
        "symbol": "BTC/USDT",
        "base": "BTC",
        "quote": "USDT",
        "tick_size": "0.01",
        "step_size": "0.00001",
        "min_amount": "0.00001",
        "min_notional": "10",
        "maker_fee": "0.001",
        "taker_fee": "0.001",
        "max_open_orders": 200,
    }
    assert market(alice_client, "binance", "?page_size=2")["count"] == 6
    # Loaded once, then kept in Redis for the symbol check and the picker alike.
    assert len(offline_exchanges.sent("GET", "/api/v3/exchangeInfo")) == 1
    assert 0 < redis_client.ttl("markets:binance") <= 3600


def test_a_list_cached_before_the_rules_were_kept_is_loaded_again(alice_client, offline_exchanges, redis_client):
    redis_client.set("markets:binance", json.dumps({"BTC/USDT": 200, "ETH/USDT": 200}), ex=3600)
    assert market(alice_client, "binance", "?search=BTC/USDT")["results"][0]["tick_size"] == "0.01"
    assert len(offline_exchanges.sent("GET", "/api/v3/exchangeInfo")) == 1


def test_paper_markets_are_the_rules_aresbot_ships(alice_client):
    page = market(alice_client, "paper", "?search=eth/usdt")
    assert [m["symbol"] for m in page["results"]] == ["ETH/USDT"]
    assert page["results"][0]["min_notional"] == "10"


def test_an_unreachable_exchange_is_a_503_naming_it(alice_client, redis_client):
    r = alice_client.get("/api/exchanges/okx/markets")
    assert r.status_code == 503
    assert r.json()["detail"].startswith("The markets of okx could not be loaded (")


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/api/exchanges/nowhere/markets", 404, {"detail": "Not found."}),
        ("/api/exchanges/kraken/markets?testnet=true", 400, {"testnet": ["kraken has no testnet."]}),
        ("/api/exchanges/binance/markets?testnet=maybe", 400, {"testnet": ["Must be true or false."]}),
    ],
)
def test_an_unknown_exchange_or_testnet_is_refused(alice_client, path, status, body):
    r = alice_client.get(path)
    assert (r.status_code, r.json()) == (status, body)


def test_the_data_sets_a_paper_account_can_replay(alice_client):
    listed = alice_client.get("/api/exchanges/paper/datasets").json()

    assert [d["name"] for d in listed] == ["BTCUSDT-1m-2022-05-05", "ETHUSDT-1h-2021-01"]
    assert listed[0]["symbol"] == "BTC/USDT" and listed[0]["interval_seconds"] == 60
    assert listed[1]["interval_seconds"] == 3600 and "January 2021" in listed[1]["description"]


@pytest.mark.parametrize("path", ["/api/exchanges/binance/datasets", "/api/exchanges/nosuch/datasets"])
def test_only_paper_has_data_sets(alice_client, path):
    assert alice_client.get(path).status_code == 404


def test_the_data_sets_are_for_signed_in_users(client):
    assert client.get("/api/exchanges/paper/datasets").status_code in (401, 403)
