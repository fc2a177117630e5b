"""POST /api/strategies/preview: the ladder a strategy would place now, computed by the engine itself. It must be the
very orders a real engine places on the paper exchange at that price, checked as creating the strategy is, and
nothing may be saved or sent."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from exchanges.clock import ManualClock
from exchanges.models import PaperBookRecord
from strategies.api import preview as preview_module
from strategies.models import Strategy
from strategies.runtime_source import spec_of
from tests.ccxt.fake_binance import API_KEY, API_SECRET, Timeout
from tests.factories import make_account, make_paper_account, make_strategy
from trading.core.memory import InMemoryStatusBoard
from trading.models import Order
from trading.runtime.build import build_engine

D = Decimal
MOMENT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BODY = {
    "symbol": "BTC/USDT",
    "grid_levels": 5,
    "buy_offset_pct": "1",
    "sell_offset_pct": "1",
    "order_size_quote": "20",
}


@pytest.fixture(autouse=True)
def at_the_moment(monkeypatch):
    monkeypatch.setattr(preview_module, "now", lambda: MOMENT)


def preview(client, account, **changes) -> dict:
    r = client.post("/api/strategies/preview", {**BODY, "account": account.pk, **changes}, format="json")
    assert r.status_code == 200, r.content
    return r.json()


@pytest.fixture
def replay_account(alice):
    return make_paper_account(alice, price_source="replay", replay_dataset="BTCUSDT-1m-2022-05-05")


@pytest.mark.parametrize(
    "changes",
    [
        {},
        # Too small to place: every level is skipped, each naming the order size that would place it.
        {"order_size_quote": "5"},
        # Deep levels below 0.2 × the price wait for Binance's PERCENT_PRICE.
        {"grid_levels": 9, "buy_offset_pct": "10"},
        # max_positions stops the ladder short.
        {"grid_levels": 6, "max_positions": 3, "stop_loss_pct": "5"},
        # Levels closer than a tick collapse into one.
        {"buy_offset_pct": "0.01", "order_size_quote": "50"},
    ],
)
def test_the_preview_is_what_a_real_engine_places_on_the_paper_exchange(alice_client, alice, replay_account, changes):
    shown = preview(alice_client, replay_account, **changes)
    assert shown["origin"] == "data set BTCUSDT-1m-2022-05-05"
    assert shown["price"] == "39684.1"  # the replay starts with its first open

    strategy = make_strategy(alice, replay_account, **{k: v for k, v in {**BODY, **changes}.items()})
    engine = build_engine(spec_of(strategy), status_board=InMemoryStatusBoard(), clock=ManualClock(MOMENT))
    status = engine.start()
    placed = Order.objects.filter(strategy=strategy).order_by("id").values_list("side", "price", "amount")
    assert [(level["price"], level["amount"]) for level in shown["levels"]] == [
        (format(D(str(price)).normalize(), "f"), format(amount.normalize(), "f")) for _, price, amount in placed
    ]
    assert {side for side, _, _ in placed} <= {"buy"}
    assert shown["skipped"] == list(status.skipped_levels)
    assert shown["paused"] == list(status.paused)
    assert engine.price == D(shown["price"])


def test_each_level_shows_its_cycle_by_hand(alice_client, alice, offline_exchanges, redis_client):
    """A Binance account at the fake's price 30000: BTCUSDT's tick 0.01, step 0.00001, fees 0.1 %."""
    account = make_account(alice, "Main", "binance", api_key=API_KEY, api_secret=API_SECRET)
    shown = preview(alice_client, account, stop_loss_pct="5")
    assert (shown["origin"], shown["price"], shown["fee_rate"]) == ("binance", "30000", "0.001")
    assert shown["market"] == {
        "tick_size": "0.01",
        "step_size": "0.00001",
        "min_amount": "0.00001",
        "min_notional": "10",
        "maker_fee": "0.001",
        "taker_fee": "0.001",
        "max_open_orders": 200,
    }
    first = shown["levels"][0]
    # 30000 × (1 − 1 %) = 29700; 20 / 29700 = 0.000673… → 0.00067 at the step.
    assert (first["level"], first["price"], first["amount"], first["quote"]) == (1, "29700", "0.00067", "19.899")
    assert first["quote_needed"] == "19.918899"  # 19.899 × 1.001
    # The fee leaves 0.00066933 BTC, of which whole steps sell: 0.00066 at 29700 × 1.01 = 29997.
    assert (first["take_profit_price"], first["take_profit_amount"]) == ("29997", "0.00066")
    # 29997 × 0.00066 × 0.999 − 19.899 × 0.00066 / 0.00066933 = 19.77822198 − 19.62162…
    bought = D("29700") * D("0.00067")
    expected = D("29997") * D("0.00066") * D("0.999") - bought * D("0.00066") / (D("0.00067") * D("0.999"))
    assert D(first["cycle_profit"]) == expected.quantize(D("1e-18"))
    assert first["stop_loss_below"] == "28215"  # 29700 × 0.95
    assert [level["level"] for level in shown["levels"]] == [1, 2, 3, 4, 5]
    assert D(shown["total_quote"]) == sum(D(level["quote"]) for level in shown["levels"])
    assert D(shown["total_quote_needed"]) == sum(D(level["quote_needed"]) for level in shown["levels"])
    assert offline_exchanges.sent_in_transaction == []
    assert offline_exchanges.sent("POST", "/api/v3/order") == []


def test_the_preview_saves_nothing_and_sends_nothing(alice_client, alice, replay_account):
    preview(alice_client, replay_account)
    assert not Strategy.objects.exists()
    assert not Order.objects.exists()
    assert not PaperBookRecord.objects.exists()  # not even the paper book (which would fix the replay's start)


def test_bad_parameters_get_the_same_messages_as_creating(alice_client, alice, replay_account):
    body = {**BODY, "account": replay_account.pk, "grid_levels": 0, "buy_offset_pct": "60", "symbol": "ETH/USDT"}
    previewed = alice_client.post("/api/strategies/preview", body, format="json")
    created = alice_client.post("/api/strategies", {**body, "name": "g"}, format="json")
    assert previewed.status_code == created.status_code == 400
    assert previewed.json() == created.json()
    assert set(previewed.json()) == {"grid_levels", "buy_offset_pct", "symbol"}
    body = {**BODY, "account": replay_account.pk, "max_consecutive_losses": 2}
    r = alice_client.post("/api/strategies/preview", body, format="json")
    assert r.json() == {"cooldown_minutes": ["Must be at least 1 minute when max_consecutive_losses is set."]}


def test_someone_elses_account_is_refused_as_creating_refuses_it(alice_client, bob):
    theirs = make_paper_account(bob)
    r = alice_client.post("/api/strategies/preview", {**BODY, "account": theirs.pk}, format="json")
    assert r.status_code == 400
    assert list(r.json()) == ["account"]


def test_an_unreachable_exchange_is_a_503_naming_it(alice_client, alice, offline_exchanges, redis_client):
    account = make_account(alice, "Main", "binance", api_key=API_KEY, api_secret=API_SECRET)
    preview(alice_client, account)  # the markets are known now: the symbol check passes from the cache
    offline_exchanges.script("GET", "/api/v3/ticker/24hr", Timeout(after=False))
    r = alice_client.post("/api/strategies/preview", {**BODY, "account": account.pk}, format="json")
    assert r.status_code == 503
    assert r.json()["detail"].startswith("The price of binance could not be read (")
