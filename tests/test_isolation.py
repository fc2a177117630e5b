"""Alice cannot see, change or delete Bob's things, and cannot tell whether an id of his exists."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ExchangeAccount
from strategies.models import Strategy
from tests.factories import make_fill, make_order, make_paper_account, make_strategy
from trading.events import EventKind, event, record_events


@pytest.fixture
def bobs_things(bob):
    account = make_paper_account(bob, name="bob paper")
    strategy = make_strategy(bob, account, name="bob grid")
    fill = make_fill(make_order(strategy, "buy", "100", "0.1"), timezone.now() - timedelta(minutes=1))
    record_events(strategy.pk, [event(EventKind.STARTED, timezone.now(), node="bob-node")])
    return account, strategy, fill


def test_alice_lists_none_of_bobs_rows(alice_client, bobs_things):
    for url in ("/api/accounts", "/api/strategies", "/api/trades", "/api/events"):
        r = alice_client.get(url)
        assert r.status_code == 200
        assert r.json()["count"] == 0, url
    assert alice_client.get("/api/trades/stats").json()["count"] == 0


def test_bobs_ids_are_not_found_for_alice(alice_client, bobs_things):
    account, strategy, fill = bobs_things
    assert alice_client.get(f"/api/strategies/{strategy.id}/events").status_code == 404
    for url in (f"/api/accounts/{account.id}", f"/api/strategies/{strategy.id}", f"/api/trades/{fill.id}"):
        assert alice_client.get(url).status_code == 404, url
        assert alice_client.patch(url, {"name": "mine"}, format="json").status_code in (404, 405), url
        assert alice_client.put(url, {"name": "mine"}, format="json").status_code in (404, 405), url
        assert alice_client.delete(url).status_code in (404, 405), url
    assert alice_client.get("/api/accounts/999999").status_code == 404  # same answer as a missing id
    assert ExchangeAccount.objects.get(pk=account.pk).name == "bob paper"
    assert Strategy.objects.get(pk=strategy.pk).name == "bob grid"


def test_alice_cannot_attach_a_strategy_to_bobs_account(alice_client, bobs_things):
    account, _, _ = bobs_things
    r = alice_client.post(
        "/api/strategies",
        {"name": "sneaky", "account": account.id, "symbol": "BTC/USDT"},
        format="json",
    )
    assert r.status_code == 400
    assert "account" in r.json()
    assert "does not exist" in r.json()["account"][0]
    assert not Strategy.objects.filter(name="sneaky").exists()


def test_alice_cannot_move_her_strategy_onto_bobs_account(alice_client, alice, bobs_things):
    bobs_account, _, _ = bobs_things
    mine = make_strategy(alice, make_paper_account(alice))
    r = alice_client.patch(f"/api/strategies/{mine.id}", {"account": bobs_account.id}, format="json")
    assert r.status_code == 400
    mine.refresh_from_db()
    assert mine.account.owner == alice


def test_alice_cannot_filter_her_way_into_bobs_trades(alice_client, bobs_things):
    _, strategy, _ = bobs_things
    assert alice_client.get(f"/api/trades?strategy={strategy.id}").json()["count"] == 0
    assert alice_client.get(f"/api/trades/stats?strategy={strategy.id}").json()["count"] == 0


def test_alice_cannot_see_or_revoke_bobs_tokens(alice_client, bob):
    from accounts.models import ApiToken

    token, _ = ApiToken.objects.issue(bob, "bob script")
    assert alice_client.get("/api/tokens").json()["count"] == 0
    assert alice_client.delete(f"/api/tokens/{token.id}").status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()
