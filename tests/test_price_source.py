"""A paper account's price source (issue 9, item 3): live prices of a named exchange (the default) or a replay of a
shipped candle data set at a speed; set through the API and the admin, built into the engine's feed, checked by
verify. Exchanges answer from the fake Binance (tests/conftest.py `offline_exchanges`); every other is unreachable."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest
from django.core.management import call_command

from accounts.models import ExchangeAccount
from exchanges.ccxt.feed import LiveTickerFeed
from exchanges.clock import ManualClock
from exchanges.models import PaperBookRecord
from exchanges.paper import sources
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.feeds import CandleReplayFeed
from exchanges.paper.sources import ReplayDataset
from strategies.models import Strategy
from strategies.runtime_source import spec_of
from tests.ccxt.fake_binance import Timeout
from tests.factories import make_paper_account, make_strategy
from trading.core.memory import InMemoryStatusBoard
from trading.runtime.build import build_engine
from trading.runtime.metered import MeteredExchange

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
DAY = "BTCUSDT-1m-2022-05-05"
FIRST_OPEN, SECOND_OPEN = D("39684.10"), D("39689.60")  # the data set's first two candles open at these


def create(client, **fields: Any):
    data = {"name": "paper", "exchange": "paper", "paper_balances": {"USDT": "1000"}, **fields}
    return client.post("/api/accounts", data, format="json")


def replay_account(owner, name: str = "replay", **fields: Any) -> ExchangeAccount:
    return make_paper_account(
        owner, name, **{"price_source": "replay", "replay_dataset": DAY, "replay_speed": D(60), **fields}
    )


def paper_exchange(strategy: Strategy, clock: ManualClock) -> PaperExchange:
    """The exchange of the strategy's engine, as a worker builds it."""
    engine = build_engine(spec_of(strategy), status_board=InMemoryStatusBoard(), clock=clock)
    assert isinstance(engine.exchange, MeteredExchange) and isinstance(engine.exchange.inner, PaperExchange)
    return engine.exchange.inner


def price_of(strategy: Strategy, clock: ManualClock) -> D:
    return paper_exchange(strategy, clock).fetch_price(strategy.symbol)


# --- the fields, through the API -----------------------------------------------------------------------------------


def test_a_paper_account_follows_live_binance_prices_unless_told_otherwise(alice_client):
    r = create(alice_client)
    assert r.status_code == 201, r.json()
    body = r.json()
    assert (body["price_source"], body["price_exchange"], body["replay_dataset"], body["replay_speed"]) == (
        "live",
        "binance",
        "",
        None,
    )


def test_a_paper_account_replays_a_shipped_data_set_at_its_speed(alice_client):
    r = create(alice_client, price_source="replay", replay_dataset=DAY, replay_speed="30")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert (body["price_source"], body["replay_dataset"], body["replay_speed"], body["price_exchange"]) == (
        "replay",
        DAY,
        "30.000",
        "",
    )


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"price_source": "replay", "replay_dataset": "BTCUSDT-1m-1999"}, "replay_dataset", "Unknown data set"),
        ({"price_source": "replay"}, "replay_dataset", "A replay needs a data set: one of BTCUSDT-1m-2022-05-05"),
        ({"price_source": "replay", "replay_dataset": DAY, "replay_speed": "0.5"}, "replay_speed", "between 1 and"),
        ({"price_source": "replay", "replay_dataset": DAY, "replay_speed": "10001"}, "replay_speed", "and 10000"),
        ({"price_source": "replay", "replay_dataset": DAY, "price_exchange": "kraken"}, "price_exchange", "live"),
        ({"price_source": "live", "replay_dataset": DAY}, "replay_dataset", "Only a replay"),
        ({"price_source": "live", "replay_speed": "2"}, "replay_speed", "Only a replay"),
        ({"price_source": "random"}, "price_source", "not a valid choice"),
        ({"price_exchange": "nosuchexchange"}, "price_exchange", "Unknown exchange 'nosuchexchange'"),
        ({"price_exchange": "paper"}, "price_exchange", "Unknown exchange 'paper'"),
    ],
)
def test_a_bad_price_source_is_a_400_naming_the_field(alice_client, fields, field, fragment):
    r = create(alice_client, **fields)
    assert r.status_code == 400
    assert fragment in " ".join(r.json()[field]), r.json()
    assert not ExchangeAccount.objects.exists()


@pytest.mark.parametrize(
    "field", [("price_source", "live"), ("price_exchange", "binance"), ("replay_dataset", DAY), ("replay_speed", "2")]
)
def test_a_real_exchange_account_has_no_price_source(alice_client, field):
    name, value = field
    data = {"name": "main", "exchange": "binance", "api_key": "k" * 20, "api_secret": "s" * 20, name: value}
    r = alice_client.post("/api/accounts", data, format="json")
    assert r.status_code == 400
    assert r.json()[name] == ["Only paper accounts have a price source."]


def test_switching_kinds_drops_what_the_old_kind_needed(alice, alice_client):
    account = replay_account(alice)
    r = alice_client.patch(f"/api/accounts/{account.pk}", {"price_source": "live"}, format="json")
    assert r.status_code == 200, r.json()
    assert (r.json()["price_exchange"], r.json()["replay_dataset"], r.json()["replay_speed"]) == ("binance", "", None)


# --- changes on an account with strategies -------------------------------------------------------------------------


def test_the_price_source_of_a_running_strategys_account_cannot_change(alice, alice_client):
    account = replay_account(alice)
    make_strategy(alice, account)
    Strategy.objects.update(desired_state="running")
    r = alice_client.patch(f"/api/accounts/{account.pk}", {"replay_speed": "120"}, format="json")
    assert r.status_code == 400
    assert "Stop the account's strategies" in r.json()["replay_speed"][0]
    account.refresh_from_db()
    assert account.replay_speed == D(60)


def test_a_new_price_source_must_have_the_markets_of_the_accounts_strategies(alice, alice_client):
    account = make_paper_account(alice)
    make_strategy(alice, account, name="eth", symbol="ETH/USDT")
    r = alice_client.patch(
        f"/api/accounts/{account.pk}", {"price_source": "replay", "replay_dataset": DAY}, format="json"
    )
    assert r.status_code == 400
    assert r.json()["price_source"] == [f"data set {DAY} has no market for the strategies 'eth' (ETH/USDT)."]


def test_a_changed_price_source_replaces_the_feed_the_paper_book_remembers(alice, alice_client):
    account = make_paper_account(alice)
    strategy = make_strategy(alice, account)
    clock = ManualClock(T0)
    assert price_of(strategy, clock) == D("30000")  # the fake Binance's live price
    r = alice_client.patch(
        f"/api/accounts/{account.pk}",
        {"price_source": "replay", "replay_dataset": DAY, "replay_speed": "60"},
        format="json",
    )
    assert r.status_code == 200, r.json()
    strategy.refresh_from_db()
    assert price_of(strategy, clock) == FIRST_OPEN
    assert PaperBookRecord.objects.get(key=f"account:{account.pk}").feeds["BTC/USDT"]["kind"] == "replay"


# --- the engine's feed ------------------------------------------------------------------------------------------------


def test_the_engine_of_a_replay_account_replays_its_data_set_from_its_first_trade_at_its_speed(alice):
    strategy = make_strategy(alice, replay_account(alice))
    clock = ManualClock(T0)
    exchange = paper_exchange(strategy, clock)
    assert isinstance(exchange.feeds["BTC/USDT"], CandleReplayFeed)
    assert exchange.fetch_price("BTC/USDT") == FIRST_OPEN
    clock.advance(1)  # at 60 times real time, one second is the next 1-minute candle
    assert exchange.fetch_price("BTC/USDT") == SECOND_OPEN
    stored = PaperBookRecord.objects.get(key=f"account:{strategy.account_id}").feeds["BTC/USDT"]
    # A path inside exchanges/data, so the stored spec survives a move of the installation.
    assert stored == {
        "kind": "replay",
        "path": "replay/BTCUSDT-1m-2022-05-05.csv",
        "start": T0.isoformat(),
        "speed": "60",
    }


def test_the_engine_of_a_live_paper_account_reads_the_named_exchanges_ticker(alice, offline_exchanges):
    strategy = make_strategy(alice, make_paper_account(alice))
    exchange = paper_exchange(strategy, ManualClock(T0))
    feed = exchange.feeds["BTC/USDT"]
    assert isinstance(feed, LiveTickerFeed) and feed.exchange.exchange_id == "binance"
    offline_exchanges.prices["BTCUSDT"] = D("31234.5")
    assert exchange.fetch_price("BTC/USDT") == D("31234.5")


def test_the_quick_start_demo_replays_the_shipped_day(alice):
    alice.is_superuser = True
    alice.save()
    call_command("create_demo", "--no-start", stdout=io.StringIO())
    strategy = Strategy.objects.get(owner=alice)
    account = strategy.account
    assert (account.price_source, account.replay_dataset, account.replay_speed) == ("replay", DAY, D(30))
    assert price_of(strategy, ManualClock(T0)) == FIRST_OPEN


# --- verify ----------------------------------------------------------------------------------------------------------


def verify(client, account: ExchangeAccount) -> dict[str, Any]:
    r = client.post(f"/api/accounts/{account.pk}/verify")
    assert r.status_code == 200, r.content
    return r.json()


def test_verify_reads_the_live_price_of_each_symbol_the_account_trades(alice, alice_client, offline_exchanges):
    account = make_paper_account(alice)
    make_strategy(alice, account)
    make_strategy(alice, account, name="eth", symbol="ETH/BTC")
    offline_exchanges.prices["ETHBTC"] = D("0.07")
    assert verify(alice_client, account) == {
        "ok": True,
        "exchange": "paper",
        "assets": 1,
        "reason": None,
        "detail": "Live prices from binance: BTC/USDT at 30000, ETH/BTC at 0.07.",
        "warnings": [],
    }


def test_verify_of_a_paper_account_whose_live_prices_cannot_be_read_is_a_failure_with_the_reason(
    alice, alice_client, offline_exchanges
):
    account = make_paper_account(alice)
    offline_exchanges.script("GET", "/api/v3/ticker/24hr", Timeout(after=False))
    body = verify(alice_client, account)
    assert (body["ok"], body["reason"]) == (False, "unreachable")
    assert body["detail"].startswith("The price source, binance's public prices, cannot be read:")


def test_verify_of_a_paper_account_following_an_unreachable_exchange_says_so(alice, alice_client):
    account = make_paper_account(alice, price_exchange="kraken")  # the tests' kraken is unreachable
    body = verify(alice_client, account)
    assert (body["ok"], body["reason"]) == (False, "unreachable")
    assert "kraken's public prices" in body["detail"]


def test_verify_of_a_replay_loads_its_data_set(alice, alice_client):
    body = verify(alice_client, replay_account(alice))
    assert body["ok"] is True
    assert body["detail"] == (
        f"Replays BTC/USDT from data set {DAY}: 1440 candles, 2022-05-05 00:00 to 2022-05-05 23:59 UTC, "
        "at 60 times real time."
    )


def test_verify_of_a_replay_whose_data_set_cannot_be_read_is_a_failure(alice, alice_client, monkeypatch):
    account = replay_account(alice)
    gone = ReplayDataset(DAY, "replay/missing.csv", "BTC/USDT", sources.DATASETS[DAY].interval, "gone")
    monkeypatch.setitem(sources.DATASETS, DAY, gone)
    body = verify(alice_client, account)
    assert (body["ok"], body["reason"]) == (False, "data_set_unreadable")
    assert f"data set {DAY!r}, cannot be read" in body["detail"]


# --- the admin and the schema ----------------------------------------------------------------------------------------


def test_the_admin_sets_a_replay_price_source(alice, client):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    form = {
        "owner": alice.pk,
        "name": "replay",
        "exchange": "paper",
        "is_active": "on",
        "paper_balances": '{"USDT": "100"}',
        "price_source": "replay",
        "price_exchange": "",
        "replay_dataset": "ETHUSDT-1h-2021-01",
        "replay_speed": "3600",
    }
    response = client.post("/admin/accounts/exchangeaccount/add/", form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    account = ExchangeAccount.objects.get()
    assert account.paper_prices() == sources.PriceSource(
        sources.PriceSourceKind.REPLAY, exchange="", dataset="ETHUSDT-1h-2021-01", speed=D(3600)
    )


def test_the_schema_documents_the_price_source(alice_client):
    schema = alice_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    schemas = schema["components"]["schemas"]
    fields = schemas["ExchangeAccount"]["properties"]
    kinds = [schemas[ref["$ref"].rsplit("/", 1)[1]]["enum"] for ref in fields["price_source"]["oneOf"]]
    assert ["live", "replay"] in kinds
    assert DAY in fields["replay_dataset"]["description"]
    assert "ETHUSDT-1h-2021-01" in fields["replay_dataset"]["description"]
    assert fields["replay_speed"]["nullable"] is True


def test_run_strategy_trades_at_the_accounts_price_source_unless_told_otherwise(alice):
    strategy = make_strategy(alice, replay_account(alice))
    call_command("run_strategy", strategy.pk, "--ticks", "3", "--fast", "--quiet", stdout=io.StringIO())
    assert PaperBookRecord.objects.get(key=f"account:{strategy.account_id}").feeds["BTC/USDT"]["kind"] == "replay"


# --- the migration ---------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_existing_paper_accounts_get_the_price_source_their_book_used():
    """The quick start's demo account replayed its day through its book alone: after the migration the account
    says so, and an account that followed Binance says that."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connection)
        before = [("accounts", "0001_initial"), ("exchanges", "0001_initial")]
        after = [("accounts", "0002_paper_price_source"), ("exchanges", "0001_initial")]
        executor.migrate(before)
        old = executor.loader.project_state(before).apps
        User = old.get_model("auth", "User")
        Account = old.get_model("accounts", "ExchangeAccount")
        Book = old.get_model("exchanges", "PaperBookRecord")
        owner = User.objects.create(username="carol")
        demo = Account.objects.create(owner=owner, name="demo", exchange="paper", paper_balances={"USDT": "1"})
        Account.objects.create(owner=owner, name="live", exchange="paper", paper_balances={"USDT": "1"})
        replay = {"kind": "replay", "path": "replay/BTCUSDT-1m-2022-05-05.csv", "start": T0.isoformat(), "speed": 30.0}
        Book.objects.create(key=f"account:{demo.pk}", balances={}, feeds={"BTC/USDT": replay})
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps.get_model("accounts", "ExchangeAccount")
        assert list(
            new.objects.values_list("name", "price_source", "price_exchange", "replay_dataset").order_by("name")
        ) == [
            ("demo", "replay", "", DAY),
            ("live", "live", "binance", ""),
        ]
        assert new.objects.get(name="demo").replay_speed == D(30)
    finally:  # the schema the other tests expect, whatever happened
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
