"""POST /api/accounts/{id}/verify and GET /api/accounts/{id}/balance, against the fake Binance (no network)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from accounts.models import ExchangeAccount
from tests.ccxt.fake_binance import API_KEY, API_SECRET, Reply, Timeout
from tests.factories import make_account, make_paper_account


@pytest.fixture
def binance_account(alice, transport, scope, settings) -> ExchangeAccount:
    settings.EXCHANGE_OUTBOUND_IP = scope
    return make_account(alice, "Main", "binance", api_key=API_KEY, api_secret=API_SECRET)


def verify(client, account):
    r = client.post(f"/api/accounts/{account.pk}/verify")
    assert r.status_code == 200, r.content
    return r.json()


def test_a_working_key_verifies_ok_with_its_asset_count(alice_client, binance_account, transport):
    body = verify(alice_client, binance_account)
    assert body == {"ok": True, "exchange": "binance", "assets": 2, "reason": None, "detail": "", "warnings": []}
    [account_call] = transport.sent("GET", "/api/v3/account")
    assert account_call.api_key == API_KEY and account_call.params["signature"]
    assert len(transport.sent("GET", "/sapi/v1/account/apiRestrictions")) == 1


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("key_format", "bad_key"),
        ("signature", "bad_key"),
        ("key_rejected", "key_or_ip_rejected"),
        ("too_much_weight", "rate_limited"),
    ],
)
def test_a_refused_key_answers_the_classified_reason_without_secrets(
    alice_client, binance_account, transport, scope, error, reason
):
    transport.script("GET", "/api/v3/account", transport.error(error, {"Retry-After": "1"}))
    body = verify(alice_client, binance_account)
    assert (body["ok"], body["reason"]) == (False, reason)
    assert API_KEY not in body["detail"] and API_SECRET not in body["detail"] and "signature=" not in body["detail"]
    if reason == "key_or_ip_rejected":
        assert f"this server's outbound IP: {scope}" in body["detail"]


def test_an_unreachable_exchange_answers_unreachable(alice_client, binance_account, transport):
    transport.script("GET", "/api/v3/account", Timeout(after=False))
    assert verify(alice_client, binance_account)["reason"] == "unreachable"


def test_a_key_without_trade_permission_is_not_ok(alice_client, binance_account, transport):
    transport.api_restrictions = {**transport.api_restrictions, "enableSpotAndMarginTrading": False}
    body = verify(alice_client, binance_account)
    assert (body["ok"], body["reason"]) == (False, "no_trade_permission")
    assert "Spot & Margin Trading" in body["detail"]


def test_an_account_that_may_not_trade_is_not_ok(alice_client, binance_account, transport):
    transport.script("GET", "/api/v3/account", Reply(200, {"canTrade": False, "balances": []}))
    assert verify(alice_client, binance_account)["reason"] == "no_trade_permission"


def test_a_key_that_may_withdraw_or_has_no_ip_restriction_verifies_with_warnings(
    alice_client, binance_account, transport
):
    transport.api_restrictions = {**transport.api_restrictions, "ipRestrict": False, "enableWithdrawals": True}
    body = verify(alice_client, binance_account)
    assert body["ok"] is True
    assert "not restricted to trusted IPs" in body["warnings"][0]
    assert "may withdraw funds" in body["warnings"][1]


def test_the_balance_lists_non_zero_assets_as_decimal_strings(alice_client, binance_account, transport):
    transport.balances["USDT"] = [D("9710.5"), D("289.5")]
    r = alice_client.get(f"/api/accounts/{binance_account.pk}/balance")
    assert r.status_code == 200
    assert r.json() == {
        "exchange": "binance",
        "balances": [
            {"asset": "BTC", "free": "0.01", "locked": "0", "total": "0.01"},
            {"asset": "USDT", "free": "9710.5", "locked": "289.5", "total": "10000"},
        ],
    }


@pytest.mark.parametrize(
    ("answer", "status", "reason"),
    [("key_rejected", 502, "key_or_ip_rejected"), ("too_much_weight", 503, "rate_limited"), (None, 503, "unreachable")],
)
def test_a_failing_exchange_answers_502_or_503_with_the_reason(
    alice_client, binance_account, transport, answer, status, reason
):
    transport.script(
        "GET", "/api/v3/account", transport.error(answer, {"Retry-After": "1"}) if answer else Timeout(after=False)
    )
    r = alice_client.get(f"/api/accounts/{binance_account.pk}/balance")
    assert r.status_code == status
    assert r.json()["reason"] == reason and API_SECRET not in r.json()["detail"]


def test_a_paper_account_shows_its_starting_balance(alice, alice_client):
    account = make_paper_account(alice)
    r = alice_client.get(f"/api/accounts/{account.pk}/balance")
    assert r.json() == {
        "exchange": "paper",
        "balances": [{"asset": "USDT", "free": "10000", "locked": "0", "total": "10000"}],
    }


def test_another_users_account_is_not_found(bob_client, binance_account, transport):
    assert bob_client.post(f"/api/accounts/{binance_account.pk}/verify").status_code == 404
    assert bob_client.get(f"/api/accounts/{binance_account.pk}/balance").status_code == 404
    assert transport.requests == []


def test_verify_needs_a_post(alice_client, binance_account):
    assert alice_client.get(f"/api/accounts/{binance_account.pk}/verify").status_code == 405
