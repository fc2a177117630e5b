"""A strategy's symbol is checked against its account's markets when it is created or moved (issue 9, item 4):
the exchange's markets, or a paper account's price source's; kept in Redis; a 503 naming the exchange when they
cannot be loaded, never a blind accept. Binance answers from its recorded exchangeInfo (the fake Binance of
tests/conftest.py `offline_exchanges`); any other exchange is unreachable in the tests."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client

from accounts.models import ExchangeAccount
from exchanges.ccxt.client import forget_markets
from strategies.models import Strategy
from tests.ccxt.fake_binance import API_KEY, API_SECRET, FakeBinance, Timeout
from tests.factories import make_account, make_paper_account, make_strategy
from tests.transactions import open_transaction
from trading.runtime import markets
from trading.runtime.markets import MARKETS_CACHE_SECONDS, MarketsUnavailable

SCOPE = "test-symbols"
EXCHANGE_INFO = ("GET", "/api/v3/exchangeInfo")


@pytest.fixture
def binance(offline_exchanges: FakeBinance, redis_client: Any, settings: Any) -> FakeBinance:
    """The fake Binance, with every cache of its markets empty (Redis: `redis_client`; the adapter's own copy:
    `offline_exchanges`): the first check loads them."""
    settings.EXCHANGE_OUTBOUND_IP = SCOPE
    return offline_exchanges


@pytest.fixture
def binance_account(alice) -> ExchangeAccount:
    return make_account(alice, "main", "binance", api_key=API_KEY, api_secret=API_SECRET)


def payload(account: ExchangeAccount, symbol: str, name: str = "grid") -> dict[str, Any]:
    return {
        "name": name,
        "account": account.pk,
        "symbol": symbol,
        "grid_levels": 5,
        "buy_offset_pct": "1",
        "sell_offset_pct": "1",
        "order_size_quote": "20",
    }


def create(client, account: ExchangeAccount, symbol: str, name: str = "grid"):
    return client.post("/api/strategies", payload(account, symbol, name), format="json")


def exchange_down(fake: FakeBinance) -> None:
    fake.script(*EXCHANGE_INFO, *[Timeout(after=False)] * 5)


# --- the API -------------------------------------------------------------------------------------------------------


def test_a_symbol_the_exchange_does_not_list_is_a_400_naming_the_exchange(alice_client, binance, binance_account):
    r = create(alice_client, binance_account, "FOO/BAR")
    assert r.status_code == 400
    assert r.json() == {"symbol": ["Symbol FOO/BAR is not a market on binance."]}
    assert not Strategy.objects.exists()
    assert create(alice_client, binance_account, "ETH/BTC").status_code == 201


def test_a_near_miss_names_the_market_meant(alice_client, binance, binance_account):
    r = create(alice_client, binance_account, "BTC/USDC")
    assert r.json()["symbol"] == ["Symbol BTC/USDC is not a market on binance. Did you mean BTC/USDT?"]


def test_a_live_paper_account_trades_the_markets_of_its_price_exchange(alice, alice_client, binance):
    account = make_paper_account(alice)
    assert create(alice_client, account, "FOO/BAR").json() == {"symbol": ["Symbol FOO/BAR is not a market on binance."]}
    assert create(alice_client, account, "SHIB/USDT").status_code == 201


def test_a_replaying_paper_account_trades_its_data_sets_symbol_only(alice, alice_client, binance):
    account = make_paper_account(
        alice, price_source="replay", replay_dataset="BTCUSDT-1m-2022-05-05", replay_speed="30"
    )
    r = create(alice_client, account, "ETH/USDT")
    assert r.status_code == 400
    assert r.json()["symbol"] == [
        "Symbol ETH/USDT is not in data set BTCUSDT-1m-2022-05-05, the account's price source: it has BTC/USDT."
    ]
    assert create(alice_client, account, "BTC/USDT").status_code == 201
    assert binance.requests == []  # a data set's markets need no exchange


def test_markets_that_cannot_be_loaded_are_a_503_naming_the_exchange(alice_client, binance, binance_account):
    exchange_down(binance)
    r = create(alice_client, binance_account, "BTC/USDT")
    assert r.status_code == 503
    assert r.json()["detail"].startswith("The markets of binance could not be loaded (")
    assert not Strategy.objects.exists()
    binance.scripted.clear()  # back again
    assert create(alice_client, binance_account, "BTC/USDT").status_code == 201


def test_an_unreachable_price_exchange_is_a_503_naming_it(alice, alice_client, binance):
    account = make_paper_account(alice, price_exchange="kraken")  # the tests' kraken is unreachable
    r = create(alice_client, account, "BTC/USD")
    assert r.status_code == 503
    assert r.json()["detail"].startswith("The markets of kraken could not be loaded")
    assert not Strategy.objects.exists()


def test_other_bad_fields_are_reported_even_when_the_markets_cannot_be_loaded(alice_client, binance, binance_account):
    exchange_down(binance)
    r = alice_client.post("/api/strategies", {**payload(binance_account, "BTC/USDT"), "grid_levels": 0}, format="json")
    assert r.status_code == 400
    assert list(r.json()) == ["grid_levels"]


def test_markets_are_loaded_once_through_the_shared_limiter_and_kept_in_redis(
    alice_client, binance, binance_account, redis_client
):
    assert create(alice_client, binance_account, "BTC/USDT", "one").status_code == 201
    assert create(alice_client, binance_account, "FOO/BAR", "two").status_code == 400
    forget_markets()  # another web process: only Redis remembers
    assert create(alice_client, binance_account, "ETH/USDT", "three").status_code == 201
    assert len(binance.sent(*EXCHANGE_INFO)) == 1
    assert [r.api_key for r in binance.requests] == [None]  # unsigned: the market list is public
    assert int(redis_client.get(f"ratelimit:binance:ip:{SCOPE}:sum")) == 20  # exchangeInfo's weight, counted
    assert 0 < redis_client.ttl("markets:binance") <= MARKETS_CACHE_SECONDS
    exchange_down(binance)
    assert create(alice_client, binance_account, "ETH/BTC", "four").status_code == 201  # from the cache


def test_a_testnet_account_is_checked_against_the_testnets_markets(alice, alice_client, binance, redis_client):
    account = make_account(alice, "test", "binance", api_key=API_KEY, api_secret=API_SECRET, testnet=True)
    assert create(alice_client, account, "BTC/USDT").status_code == 201
    assert {r.host for r in binance.sent(*EXCHANGE_INFO)} == {"testnet.binance.vision"}
    assert redis_client.exists("markets:binance:testnet") and not redis_client.exists("markets:binance")


def test_an_edit_is_checked_only_when_it_moves_the_strategy_to_another_market(
    alice, alice_client, binance, binance_account
):
    strategy = make_strategy(alice, binance_account)
    forget_markets()
    binance_account.refresh_from_db()
    exchange_down(binance)
    markets.get_redis().delete("markets:binance")
    # The grid and the risk rules can be changed while the exchange is down.
    r = alice_client.patch(f"/api/strategies/{strategy.pk}", {"stop_loss_pct": "5"}, format="json")
    assert r.status_code == 200, r.json()
    r = alice_client.patch(f"/api/strategies/{strategy.pk}", {"symbol": "ETH/BTC"}, format="json")
    assert r.status_code == 503
    binance.scripted.clear()
    r = alice_client.patch(f"/api/strategies/{strategy.pk}", {"symbol": "FOO/BAR"}, format="json")
    assert r.json() == {"symbol": ["Symbol FOO/BAR is not a market on binance."]}
    strategy.refresh_from_db()
    assert strategy.symbol == "BTC/USDT"
    other = make_paper_account(alice, price_source="replay", replay_dataset="ETHUSDT-1h-2021-01")
    r = alice_client.patch(f"/api/strategies/{strategy.pk}", {"account": other.pk}, format="json")
    assert "not in data set ETHUSDT-1h-2021-01" in r.json()["symbol"][0]


# --- the open-order cap (issue 9, item 7) ---------------------------------------------------------------------------


def test_max_positions_above_the_markets_open_order_cap_is_a_400_naming_both_fields_and_the_cap(
    alice_client, binance, binance_account
):
    r = alice_client.post(
        "/api/strategies", {**payload(binance_account, "BTC/USDT"), "max_positions": 201}, format="json"
    )
    assert r.status_code == 400
    assert r.json() == {
        "max_positions": [
            "max_positions 201 lets this strategy hold up to 201 open orders on BTC/USDT (a take-profit per open "
            "lot plus up to grid_levels 5 resting buys), above the exchange's limit of 200 open orders per symbol "
            "(MAX_NUM_ORDERS). Use max_positions 200 or less."
        ]
    }
    assert not Strategy.objects.exists()
    r = alice_client.post(
        "/api/strategies", {**payload(binance_account, "BTC/USDT"), "max_positions": 200}, format="json"
    )
    assert r.status_code == 201
    r = alice_client.patch(f"/api/strategies/{r.json()['id']}", {"max_positions": 1000}, format="json")
    assert r.status_code == 400
    assert "limit of 200 open orders per symbol (MAX_NUM_ORDERS)" in r.json()["max_positions"][0]


def test_a_replaying_paper_account_has_the_shipped_rules_cap(alice, alice_client, binance):
    account = make_paper_account(alice, price_source="replay", replay_dataset="BTCUSDT-1m-2022-05-05")
    r = alice_client.post("/api/strategies", {**payload(account, "BTC/USDT"), "max_positions": 300}, format="json")
    assert "limit of 200 open orders" in r.json()["max_positions"][0]


def test_max_positions_is_changed_while_the_exchange_is_down_and_the_engine_says_what_it_exceeds(
    alice, alice_client, binance, binance_account
):
    strategy = make_strategy(alice, binance_account)
    forget_markets()
    exchange_down(binance)
    markets.get_redis().delete("markets:binance")
    asked = len(binance.sent(*EXCHANGE_INFO))
    r = alice_client.patch(f"/api/strategies/{strategy.pk}", {"max_positions": 500}, format="json")
    assert r.status_code == 200, r.json()  # the cap is not known now: the engine's status tells (tests/core)
    assert len(binance.sent(*EXCHANGE_INFO)) == asked  # and nobody waited for the exchange


# --- the model (management commands, factories) and its transactions -------------------------------------------------


def test_the_models_own_rules_check_the_symbol(alice, binance, binance_account):
    with pytest.raises(ValidationError) as caught:
        make_strategy(alice, binance_account, symbol="FOO/BAR")
    assert caught.value.message_dict == {"symbol": ["Symbol FOO/BAR is not a market on binance."]}


def test_markets_are_never_loaded_inside_a_transaction(alice, binance, binance_account):
    with pytest.raises(MarketsUnavailable, match="before a database transaction opens"), transaction.atomic():
        make_strategy(alice, binance_account)
    assert binance.requests == []


# --- the admin -----------------------------------------------------------------------------------------------------


@pytest.fixture
def web(alice) -> Client:
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client = Client()
    client.force_login(alice)
    return client


def admin_form(alice, account: ExchangeAccount, symbol: str) -> dict[str, Any]:
    values = {
        **payload(account, symbol),
        "owner": alice.pk,
        "reprice_threshold_pct": "1",
        "loop_interval": "1",
        "max_positions": "10",
        "cooldown_minutes": "0",
    }
    return {k: str(v) for k, v in values.items()}


def test_the_admin_loads_the_markets_before_its_transaction_opens(web, alice, binance, binance_account, monkeypatch):
    seen: list[str | None] = []
    send = binance.send

    def watched(request: Any, **kwargs: Any) -> Any:
        seen.append(open_transaction())
        return send(request, **kwargs)

    monkeypatch.setattr(binance, "send", watched)
    response = web.post("/admin/strategies/strategy/add/", admin_form(alice, binance_account, "FOO/BAR"))
    assert response.context["adminform"].form.errors["symbol"] == ["Symbol FOO/BAR is not a market on binance."]
    response = web.post("/admin/strategies/strategy/add/", admin_form(alice, binance_account, "BTC/USDT"))
    assert response.status_code == 302
    assert seen == [None]  # loaded once, outside the admin's transaction


def test_the_admin_shows_markets_it_cannot_load_as_a_form_error(web, alice, binance, binance_account):
    exchange_down(binance)
    response = web.post("/admin/strategies/strategy/add/", admin_form(alice, binance_account, "BTC/USDT"))
    assert response.status_code == 200
    [message] = response.context["adminform"].form.non_field_errors()
    assert message.startswith("The markets of binance could not be loaded")
    assert not Strategy.objects.exists()
    assert len(binance.sent(*EXCHANGE_INFO)) == 1  # the form read the outcome, it did not ask again


def test_the_account_admin_checks_a_new_live_source_against_the_accounts_strategies(web, alice, binance):
    account = make_paper_account(alice, price_source="replay", replay_dataset="BTCUSDT-1m-2022-05-05")
    make_strategy(alice, account)
    form = {
        "owner": alice.pk,
        "name": account.name,
        "exchange": "paper",
        "is_active": "on",
        "paper_balances": '{"USDT": "10000"}',
        "price_source": "live",
        "price_exchange": "binance",
        "replay_dataset": "",
        "replay_speed": "",
        "api_key": "",
        "api_secret": "",
        "passphrase": "",
    }
    binance.exchange_info["symbols"] = [s for s in binance.exchange_info["symbols"] if s["symbol"] != "BTCUSDT"]
    response = web.post(f"/admin/accounts/exchangeaccount/{account.pk}/change/", form)
    assert response.context["adminform"].form.errors["price_source"] == [
        "binance has no market for the strategies 'grid' (BTC/USDT)."
    ]
    account.refresh_from_db()
    assert account.price_source == "replay"
