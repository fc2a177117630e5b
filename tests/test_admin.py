"""The admin: the same rules and messages as the API, secrets never shown, the trade record read-only."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from rest_framework.test import APIClient

from accounts.fields import SealedSecret, reveal
from accounts.models import ApiToken, ExchangeAccount
from exchanges.base import Side
from strategies.choices import DesiredState
from strategies.models import Strategy
from tests.factories import make_account, make_fill, make_order, make_paper_account, make_position, make_strategy
from trading.core.types import ExitReason
from trading.models import Fill, Order, Position

API_KEY = "alice-binance-key-7Hq2Lm9Xw4Tz"
API_SECRET = "alice-binance-secret-Pz8Kd3Vn6Rb1"
NEW_SECRET = "alice-binance-secret-rotated-Qw5Ej2"


@pytest.fixture
def admin_alice(alice: User) -> User:
    """Alice runs the site: the admin tests and the API comparisons act as the same user."""
    alice.is_staff = alice.is_superuser = True
    alice.save()
    return alice


@pytest.fixture
def web(admin_alice: User) -> Client:
    client = Client()
    client.force_login(admin_alice)
    return client


@pytest.fixture
def api(admin_alice: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(admin_alice)
    return client


def admin_url(model: type[Any], view: str, *args: Any) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def page(response: Any) -> str:
    return response.content.decode()


def form_errors(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 200, response.status_code  # a redirect would mean the admin saved it
    return {field: list(errors) for field, errors in response.context["adminform"].form.errors.items()}


def sealed(value: object) -> SealedSecret:
    assert isinstance(value, SealedSecret)
    return value


def binance_account(owner: User, name: str = "binance") -> ExchangeAccount:
    return make_account(owner, name, "binance", api_key=API_KEY, api_secret=API_SECRET)


# --- validation parity -------------------------------------------------------------------------------------------

STRATEGY_VALUES: dict[str, Any] = {
    "name": "grid",
    "symbol": "BTC/USDT",
    "grid_levels": 5,
    "buy_offset_pct": "1",
    "sell_offset_pct": "1",
    "order_size_quote": "20",
    "reprice_threshold_pct": "1",
    "loop_interval": "1",
    "max_positions": 10,
    "stop_loss_pct": None,
    "time_stop_hours": None,
    "daily_loss_limit": None,
    "max_consecutive_losses": None,
    "cooldown_minutes": 0,
}


def as_form(values: dict[str, Any]) -> dict[str, Any]:
    """What a browser posts for the same values: empty strings for empty fields, unticked boxes left out."""
    form: dict[str, Any] = {}
    for name, value in values.items():
        if value is False:
            continue
        form[name] = "" if value is None else "on" if value is True else value
    return form


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("grid_levels", {"grid_levels": 0}),
        ("grid_levels", {"grid_levels": 101}),
        ("buy_offset_pct", {"buy_offset_pct": "0"}),
        ("buy_offset_pct", {"buy_offset_pct": "50.0001", "grid_levels": 1}),
        ("sell_offset_pct", {"sell_offset_pct": "100.0001"}),
        ("loop_interval", {"loop_interval": "0.4"}),
        ("stop_loss_pct", {"stop_loss_pct": "100"}),
        ("cooldown_minutes", {"cooldown_minutes": 0, "max_consecutive_losses": 3}),
        ("symbol", {"symbol": "BTCUSDT"}),
        ("symbol", {"symbol": "FOO/BAR"}),
        ("buy_offset_pct", {"buy_offset_pct": "10", "grid_levels": 10}),
    ],
)
def test_the_strategy_admin_rejects_what_the_api_rejects_with_the_same_message(web, api, admin_alice, field, changes):
    account = make_paper_account(admin_alice)
    values = {**STRATEGY_VALUES, **changes}

    from_api = api.post("/api/strategies", {**values, "account": account.pk}, format="json")
    assert from_api.status_code == 400
    api_messages = from_api.json()[field]

    from_admin = web.post(
        admin_url(Strategy, "add"), as_form({**values, "owner": admin_alice.pk, "account": account.pk})
    )
    assert form_errors(from_admin)[field] == api_messages
    for message in api_messages:
        assert escape(message) in page(from_admin)
    assert Strategy.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("exchange", {"exchange": "nosuchexchange"}),
        ("api_key", {"exchange": "paper", "paper_balances": {"USDT": "10000"}, "api_key": API_KEY}),
        ("api_secret", {"exchange": "binance", "api_key": API_KEY}),
        ("api_key", {"exchange": "binance", "api_key": f" {API_KEY}", "api_secret": API_SECRET}),
        ("price_source", {"exchange": "binance", "api_key": API_KEY, "api_secret": API_SECRET, "price_source": "live"}),
        (
            "replay_dataset",
            {"exchange": "paper", "paper_balances": {"USDT": "1"}, "price_source": "replay", "replay_dataset": "x"},
        ),
        (
            "replay_speed",
            {
                "exchange": "paper",
                "paper_balances": {"USDT": "1"},
                "price_source": "replay",
                "replay_dataset": "BTCUSDT-1m-2022-05-05",
                "replay_speed": "0",
            },
        ),
    ],
)
def test_the_account_admin_rejects_what_the_api_rejects_with_the_same_message(web, api, admin_alice, field, values):
    values = {"name": "main", "is_active": True, **values}

    from_api = api.post("/api/accounts", values, format="json")
    assert from_api.status_code == 400
    api_messages = from_api.json()[field]

    balances = values.pop("paper_balances", {})
    form = {**as_form(values), "owner": admin_alice.pk, "paper_balances": json.dumps(balances)}
    from_admin = web.post(admin_url(ExchangeAccount, "add"), form)
    assert form_errors(from_admin)[field] == api_messages
    for message in api_messages:
        assert escape(message) in page(from_admin)
    assert ExchangeAccount.objects.count() == 0


def test_a_valid_strategy_is_created_through_the_admin_as_stopped(web, admin_alice):
    account = make_paper_account(admin_alice)
    form = as_form({**STRATEGY_VALUES, "owner": admin_alice.pk, "account": account.pk, "symbol": "eth/usdt"})
    response = web.post(admin_url(Strategy, "add"), form)
    assert response.status_code == 302
    strategy = Strategy.objects.get()
    assert strategy.symbol == "ETH/USDT"  # normalised by clean(), as the API does
    assert strategy.desired_state == DesiredState.STOPPED


def test_the_strategy_form_has_no_desired_state_input(web, admin_alice):
    strategy = make_strategy(admin_alice, make_paper_account(admin_alice))
    response = web.get(admin_url(Strategy, "change", strategy.pk))
    assert response.status_code == 200
    assert 'name="desired_state"' not in page(response)
    form = as_form({**STRATEGY_VALUES, "owner": admin_alice.pk, "account": strategy.account_id})
    web.post(admin_url(Strategy, "change", strategy.pk), {**form, "desired_state": "running"})
    strategy.refresh_from_db()
    assert strategy.desired_state == DesiredState.STOPPED


# --- secrets ----------------------------------------------------------------------------------------------------


def account_form(owner: User, **changes: Any) -> dict[str, Any]:
    form = {"owner": owner.pk, "name": "binance", "exchange": "binance", "is_active": "on", "paper_balances": "{}"}
    form.update({"api_key": "", "api_secret": "", "passphrase": ""}, **changes)
    return form


def test_credentials_typed_into_the_admin_are_stored_encrypted_and_never_shown(web, admin_alice):
    response = web.post(
        admin_url(ExchangeAccount, "add"), account_form(admin_alice, api_key=API_KEY, api_secret=API_SECRET)
    )
    assert response.status_code == 302
    account = ExchangeAccount.objects.get()
    assert reveal(account.api_key) == API_KEY
    assert reveal(account.api_secret) == API_SECRET

    ciphertexts = [sealed(account.api_key).token, sealed(account.api_secret).token]
    pages = {
        "add": web.get(admin_url(ExchangeAccount, "add")),
        "list": web.get(admin_url(ExchangeAccount, "changelist")),
        "change": web.get(admin_url(ExchangeAccount, "change", account.pk)),
        "history": web.get(admin_url(ExchangeAccount, "history", account.pk)),
        "delete": web.get(admin_url(ExchangeAccount, "delete", account.pk)),
        "bulk delete": web.post(
            admin_url(ExchangeAccount, "changelist"), {"action": "delete_selected", "_selected_action": [account.pk]}
        ),
    }
    for name, shown in pages.items():
        assert shown.status_code == 200, name
        html = page(shown)
        for secret in (API_KEY, API_SECRET, *ciphertexts):
            assert secret not in html, f"{name} page shows a credential"
    assert "****" + API_KEY[-4:] in page(pages["list"])
    assert "****" + API_KEY[-4:] in page(pages["change"])
    assert "****" + API_SECRET[-4:] in page(pages["change"])
    # A password input that renders no value: the browser gets nothing to autofill or leak.
    assert re.search(r'<input type="password" name="api_secret"(?![^>]*value=)[^>]*>', page(pages["change"]))


def test_a_rejected_change_does_not_echo_the_typed_secret(web, admin_alice):
    account = binance_account(admin_alice)
    form = account_form(admin_alice, api_key=f"{NEW_SECRET} ")  # trailing space: rejected by the model
    response = web.post(admin_url(ExchangeAccount, "change", account.pk), form)
    assert "api_key" in form_errors(response)
    assert NEW_SECRET not in page(response)
    account.refresh_from_db()
    assert reveal(account.api_key) == API_KEY


def test_a_blank_credential_keeps_the_stored_one_a_typed_one_replaces_it(web, admin_alice):
    account = binance_account(admin_alice)
    response = web.post(admin_url(ExchangeAccount, "change", account.pk), account_form(admin_alice, name="renamed"))
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.name == "renamed"
    assert (reveal(account.api_key), reveal(account.api_secret)) == (API_KEY, API_SECRET)

    response = web.post(
        admin_url(ExchangeAccount, "change", account.pk), account_form(admin_alice, api_secret=NEW_SECRET)
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert (reveal(account.api_key), reveal(account.api_secret)) == (API_KEY, NEW_SECRET)
    history = LogEntry.objects.filter(object_id=str(account.pk)).order_by("-id").first()
    assert history is not None
    assert NEW_SECRET not in history.get_change_message()


def test_the_clear_box_removes_a_credential_and_the_model_judges_the_result(web, admin_alice):
    account = make_account(admin_alice, "kraken", "kraken", api_key=API_KEY, api_secret=API_SECRET, passphrase="otp")
    form = account_form(admin_alice, name="kraken", exchange="kraken", clear_passphrase="on")
    assert web.post(admin_url(ExchangeAccount, "change", account.pk), form).status_code == 302
    account.refresh_from_db()
    assert account.passphrase == ""
    assert reveal(account.api_key) == API_KEY

    # binance needs a secret: clearing it is refused with the model's message, not silently saved.
    binance = binance_account(admin_alice)
    response = web.post(
        admin_url(ExchangeAccount, "change", binance.pk), account_form(admin_alice, clear_api_secret="on")
    )
    assert form_errors(response)["api_secret"] == ["binance requires this credential."]
    binance.refresh_from_db()
    assert reveal(binance.api_secret) == API_SECRET


def test_typing_a_credential_and_ticking_clear_is_refused(web, admin_alice):
    account = binance_account(admin_alice)
    form = account_form(admin_alice, api_secret=NEW_SECRET, clear_api_secret="on")
    response = web.post(admin_url(ExchangeAccount, "change", account.pk), form)
    assert "clear_api_secret" in form_errors(response)
    account.refresh_from_db()
    assert reveal(account.api_secret) == API_SECRET


def test_the_account_list_survives_a_wrong_encryption_key(web, admin_alice, settings):
    binance_account(admin_alice)
    settings.ENCRYPTION_KEY = "ab" * 32
    response = web.get(admin_url(ExchangeAccount, "changelist"))
    assert response.status_code == 200
    assert "cannot decrypt" in page(response)


def test_a_change_under_a_wrong_encryption_key_says_so_and_writes_nothing(web, admin_alice, settings):
    account = binance_account(admin_alice)
    stored = (sealed(account.api_key).token, sealed(account.api_secret).token)
    settings.ENCRYPTION_KEY = "ab" * 32
    url = admin_url(ExchangeAccount, "change", account.pk)

    for change in ({"name": "renamed"}, {"api_secret": NEW_SECRET}):
        response = web.post(url, account_form(admin_alice, **change))
        assert response.status_code == 200  # the form again, not a redirect (saved) nor an error page
        assert "ENCRYPTION_KEY" in str(response.context["adminform"].form.non_field_errors())
        account.refresh_from_db()
        assert account.name == "binance"
        assert (sealed(account.api_key).token, sealed(account.api_secret).token) == stored


def test_a_token_made_in_the_admin_is_shown_once_and_only_its_hash_is_stored(web, admin_alice):
    response = web.post(admin_url(ApiToken, "add"), {"user": admin_alice.pk, "name": "ci"})
    assert response.status_code == 200
    match = re.search(r'<code id="issued-token"[^>]*>(ab_[^<]+)</code>', page(response))
    assert match
    raw = match.group(1)
    assert "no-store" in response["Cache-Control"]

    token = ApiToken.objects.get()
    assert ApiToken.objects.authenticate(raw) == token
    assert raw not in (token.token_hash, token.prefix)
    assert "messages" not in response.cookies  # not parked in a cookie for a redirect either

    for url in (admin_url(ApiToken, "changelist"), admin_url(ApiToken, "change", token.pk)):
        html = page(web.get(url))
        assert raw not in html
        assert token.token_hash not in html
        assert token.prefix in html


def test_a_token_with_a_past_expiry_is_refused(web, admin_alice):
    past = timezone.localtime() - timedelta(days=1)
    form = {"user": admin_alice.pk, "name": "ci", "expires_at_0": past.date(), "expires_at_1": past.time()}
    response = web.post(admin_url(ApiToken, "add"), form)
    assert "expires_at" in form_errors(response)
    assert ApiToken.objects.count() == 0


# --- the trade record ---------------------------------------------------------------------------------------------


def make_trades(strategy: Strategy) -> None:
    """One round trip: a filled buy, its fill, and the lot its take-profit closed."""
    buy = make_order(strategy, Side.BUY, "100", "0.2")
    sell = make_order(strategy, Side.SELL, "101", "0.2")
    now = timezone.now()
    make_fill(buy, now)
    make_position(
        buy,
        now,
        exit_order=sell,
        closed_at=now,
        exit_price=Decimal("101"),
        realized_pnl=Decimal("0.2"),
        exit_reason=ExitReason.TAKE_PROFIT,
    )


@pytest.mark.parametrize("model", [Order, Fill, Position])
def test_the_trade_record_is_read_only_in_the_admin(web, admin_alice, model):
    make_trades(make_strategy(admin_alice, make_paper_account(admin_alice)))
    row, rows = model.objects.first(), model.objects.count()
    assert web.get(admin_url(model, "add")).status_code == 403
    assert web.get(admin_url(model, "delete", row.pk)).status_code == 403
    assert web.post(admin_url(model, "delete", row.pk), {"post": "yes"}).status_code == 403

    detail = web.get(admin_url(model, "change", row.pk))
    assert detail.status_code == 200  # viewable, not editable
    assert 'name="_save"' not in page(detail)
    assert web.post(admin_url(model, "change", row.pk), {}).status_code == 403

    listing = web.get(admin_url(model, "changelist"))
    assert listing.status_code == 200
    assert "delete_selected" not in page(listing)
    assert model.objects.count() == rows


def test_a_stopped_strategy_with_a_trade_history_can_be_deleted_from_the_admin(web, admin_alice):
    strategy = make_strategy(admin_alice, make_paper_account(admin_alice))
    make_trades(strategy)
    confirm = web.get(admin_url(Strategy, "delete", strategy.pk))
    assert "Cannot delete" not in page(confirm)
    response = web.post(admin_url(Strategy, "delete", strategy.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Strategy.objects.exists()
    assert not Order.objects.exists()
    assert not Position.objects.exists()


# --- deletes go through the services ------------------------------------------------------------------------------


def test_a_running_strategy_is_not_deleted_from_the_admin_and_the_message_is_the_apis(web, api, admin_alice):
    strategy = make_strategy(admin_alice, make_paper_account(admin_alice))
    Strategy.objects.filter(pk=strategy.pk).update(desired_state=DesiredState.RUNNING)

    from_api = api.delete(f"/api/strategies/{strategy.pk}")
    assert from_api.status_code == 409
    message = from_api.json()["detail"]

    response = web.post(admin_url(Strategy, "delete", strategy.pk), {"post": "yes"}, follow=True)
    assert escape(message) in page(response)
    assert Strategy.objects.filter(pk=strategy.pk).exists()
    assert not LogEntry.objects.exists()  # no history entry claims a deletion that did not happen


def test_bulk_delete_with_a_running_strategy_deletes_nothing_and_says_why(web, api, admin_alice):
    account = make_paper_account(admin_alice)
    stopped = make_strategy(admin_alice, account, name="stopped")
    running = make_strategy(admin_alice, account, name="running")
    Strategy.objects.filter(pk=running.pk).update(desired_state=DesiredState.RUNNING)
    message = api.delete(f"/api/strategies/{running.pk}").json()["detail"]

    form = {"action": "delete_selected", "_selected_action": [stopped.pk, running.pk], "post": "yes"}
    response = web.post(admin_url(Strategy, "changelist"), form, follow=True)
    assert escape(message) in page(response)
    assert "Successfully deleted" not in page(response)
    assert Strategy.objects.count() == 2
    assert not LogEntry.objects.exists()


def test_bulk_delete_of_stopped_strategies_works(web, admin_alice):
    account = make_paper_account(admin_alice)
    ids = [make_strategy(admin_alice, account, name=f"grid {i}").pk for i in range(3)]
    form = {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
    response = web.post(admin_url(Strategy, "changelist"), form, follow=True)
    assert "Successfully deleted 3 strategies" in page(response)
    assert not Strategy.objects.exists()


def test_an_account_with_strategies_is_not_deleted_from_the_admin(web, api, admin_alice):
    account = make_paper_account(admin_alice)
    make_strategy(admin_alice, account)
    assert api.delete(f"/api/accounts/{account.pk}").status_code == 409

    assert "Cannot delete" in page(web.get(admin_url(ExchangeAccount, "delete", account.pk)))
    web.post(admin_url(ExchangeAccount, "delete", account.pk), {"post": "yes"})
    form = {"action": "delete_selected", "_selected_action": [account.pk], "post": "yes"}
    web.post(admin_url(ExchangeAccount, "changelist"), form)
    assert ExchangeAccount.objects.filter(pk=account.pk).exists()


def test_an_account_without_strategies_is_deleted_from_the_admin(web, admin_alice):
    account = make_paper_account(admin_alice)
    assert web.post(admin_url(ExchangeAccount, "delete", account.pk), {"post": "yes"}).status_code == 302
    assert not ExchangeAccount.objects.exists()


# --- list pages ---------------------------------------------------------------------------------------------------


def add_rows(owner: User, count: int) -> None:
    for i in range(count):
        n = ExchangeAccount.objects.count()
        account = binance_account(owner, name=f"binance {n}") if i % 2 else make_paper_account(owner, name=f"p {n}")
        strategy = make_strategy(owner, account, name=f"grid {n}")
        make_trades(strategy)
        ApiToken.objects.issue(owner, f"token {n}")


@pytest.mark.parametrize("model", [ExchangeAccount, Strategy, Order, Fill, Position, ApiToken])
def test_list_pages_run_a_fixed_number_of_queries(web, admin_alice, bob, model, django_assert_max_num_queries):
    url = admin_url(model, "changelist")
    add_rows(admin_alice, 2)
    with CaptureQueriesContext(connection) as few:
        assert web.get(url).status_code == 200

    add_rows(admin_alice, 8)
    add_rows(bob, 5)
    with django_assert_max_num_queries(len(few)):
        response = web.get(url)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= 15


def test_engine_and_paper_book_records_are_visible_but_read_only(web, admin_alice):
    from datetime import UTC, datetime

    from exchanges.models import PaperBookRecord, PaperOrderRecord
    from trading.models import EngineState

    strategy = make_strategy(admin_alice, make_paper_account(admin_alice))
    EngineState.objects.create(strategy=strategy, anchor_price=Decimal("100.5"))
    book = PaperBookRecord.objects.create(key="account:1", balances={"USDT": {"free": "10", "locked": "0"}})
    now = datetime(2024, 1, 1, tzinfo=UTC)
    PaperOrderRecord.objects.create(
        book=book,
        client_order_id="ab1-1",
        exchange_order_id="1",
        symbol="BTC/USDT",
        side="buy",
        type="limit",
        price=Decimal("100"),
        amount=Decimal("0.1"),
        status="open",
        created_at=now,
        updated_at=now,
    )
    for model in (EngineState, PaperBookRecord, PaperOrderRecord):
        listing = web.get(admin_url(model, "changelist"))
        assert listing.status_code == 200
        assert web.get(admin_url(model, "add")).status_code == 403
        row = model.objects.first()
        assert row is not None
        assert web.post(admin_url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
    assert "100.5" in page(web.get(admin_url(EngineState, "changelist")))
