"""The strategy and account services: domain errors (not HTTP ones), and Redis written only after the commit."""

from __future__ import annotations

import io

import pytest
import redis
from django.core.management import CommandError, call_command
from django.db import transaction
from rest_framework.test import APIClient

from accounts.errors import AccountCannotTrade, AccountInUse
from accounts.models import ExchangeAccount
from accounts.services import delete_account
from aresbot.errors import InvalidField, StateConflict
from aresbot.redis import get_rq_redis
from strategies import services
from strategies.errors import StrategyAlreadyRunning, StrategyIsRunning
from strategies.models import Strategy
from strategies.services import RUNNING_CACHE_KEY, delete_strategy, running_list, start_strategy, stop_strategy
from tests.factories import make_account, make_order, make_paper_account, make_strategy
from tests.transactions import open_transaction
from trading.runtime import coordination as co


class RolledBack(Exception):
    pass


@pytest.fixture
def grid(alice):
    return make_strategy(alice, make_paper_account(alice))


def queued(queue: str) -> int:
    return int(get_rq_redis().llen(f"rq:queue:{queue}"))


def leftovers_of_a_past_run(client: redis.Redis, strategy: Strategy) -> None:
    """A stop signal nobody consumed and a failure backoff: what a start clears."""
    co.raise_stop(client, strategy.pk, ttl_seconds=60)
    co.record_failure(client, strategy.pk, "binance: invalid API key")


def start_then_roll_back(strategy: Strategy) -> None:
    with transaction.atomic():
        start_strategy(strategy)
        raise RolledBack


def stop_then_roll_back(strategy: Strategy) -> None:
    with transaction.atomic():
        stop_strategy(strategy)
        raise RolledBack


# --- domain errors ---------------------------------------------------------------------------------------------
def test_starting_a_running_strategy_is_a_conflict_naming_it(grid, redis_client):
    Strategy.objects.filter(pk=grid.pk).update(desired_state="running")
    with pytest.raises(StrategyAlreadyRunning) as caught:
        start_strategy(grid)
    assert isinstance(caught.value, StateConflict)
    assert caught.value.message == "Strategy 'grid' is already running."


def test_deleting_a_running_strategy_is_a_conflict_and_keeps_it(grid):
    Strategy.objects.filter(pk=grid.pk).update(desired_state="running")
    with pytest.raises(StrategyIsRunning, match="stop it before deleting it"):
        delete_strategy(grid)
    assert Strategy.objects.filter(pk=grid.pk).exists()


def test_deleting_an_account_with_strategies_is_a_conflict_counting_them(grid):
    make_strategy(grid.owner, grid.account, name="second")
    with pytest.raises(AccountInUse) as caught:
        delete_account(grid.account)
    assert isinstance(caught.value, StateConflict)
    assert caught.value.message == "Account 'paper' has 2 strategies: delete or move them first."


def test_an_inactive_account_cannot_trade_and_the_error_names_the_field(alice):
    account = make_paper_account(alice, is_active=False)
    with pytest.raises(AccountCannotTrade) as caught:
        account.check_can_trade()
    assert isinstance(caught.value, InvalidField)
    assert caught.value.field == "account"
    assert caught.value.message == "Account 'paper' is inactive: activate it first."


def test_an_account_on_an_unknown_exchange_cannot_trade(alice):
    account = make_paper_account(alice)
    ExchangeAccount.objects.filter(pk=account.pk).update(exchange="nosuchexchange")
    account.refresh_from_db()
    with pytest.raises(AccountCannotTrade, match="names an unknown exchange"):
        account.check_can_trade()


@pytest.mark.parametrize("cleared", ["api_key", "api_secret"])
def test_an_account_without_a_needed_credential_cannot_trade(alice, cleared):
    account = make_account(alice, "b", "binance", api_key="k" * 20, api_secret="s" * 20)
    account.check_can_trade()
    ExchangeAccount.objects.filter(pk=account.pk).update(**{cleared: ""})
    account.refresh_from_db()
    with pytest.raises(AccountCannotTrade, match="has no API credentials"):
        account.check_can_trade()


def test_a_paper_account_needs_no_credentials_to_trade(alice):
    make_paper_account(alice).check_can_trade()


def test_a_refused_start_changes_nothing(alice, redis_client, django_capture_on_commit_callbacks):
    strategy = make_strategy(alice, make_paper_account(alice, is_active=False))
    leftovers_of_a_past_run(redis_client, strategy)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(AccountCannotTrade):
        start_strategy(strategy)
    assert Strategy.objects.get(pk=strategy.pk).desired_state == "stopped"
    assert co.stop_requested(redis_client, strategy.pk) is not None
    assert queued("strategies") == 0


def test_the_api_answers_a_domain_conflict_with_409_and_its_message(alice_client, grid):
    Strategy.objects.filter(pk=grid.pk).update(desired_state="running")
    r = alice_client.delete(f"/api/strategies/{grid.pk}")
    assert r.status_code == 409
    assert r.json() == {"detail": "Strategy 'grid' is running: stop it before deleting it."}


def test_the_api_answers_an_account_that_cannot_trade_with_400_naming_the_field(alice_client, alice, redis_client):
    strategy = make_strategy(alice, make_paper_account(alice, is_active=False))
    r = alice_client.post(f"/api/strategies/{strategy.pk}/start")
    assert r.status_code == 400
    assert r.json() == {"account": ["Account 'paper' is inactive: activate it first."]}


def test_the_start_command_prints_the_reason(alice, redis_client):
    strategy = make_strategy(alice, make_paper_account(alice, is_active=False))
    err = io.StringIO()
    with pytest.raises(CommandError, match="some strategies were not started"):
        call_command("start_strategy", strategy.pk, stdout=io.StringIO(), stderr=err)
    assert f"strategy {strategy.pk} (grid): Account 'paper' is inactive: activate it first." in err.getvalue()


# --- Redis after the commit ------------------------------------------------------------------------------------
def test_a_start_touches_redis_only_once_committed(grid, redis_client, django_capture_on_commit_callbacks):
    leftovers_of_a_past_run(redis_client, grid)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        start_strategy(grid)
    assert Strategy.objects.get(pk=grid.pk).desired_state == "running"
    assert co.stop_requested(redis_client, grid.pk) is not None
    assert co.backoff_error(redis_client, grid.pk) is not None
    assert queued("strategies") == 0
    for callback in callbacks:
        callback()
    assert co.stop_requested(redis_client, grid.pk) is None
    assert co.backoff_error(redis_client, grid.pk) is None
    assert queued("strategies") == 1


def test_the_start_command_asks_redis_with_no_transaction_open(grid, redis_client, monkeypatch):
    asked_inside: list[str | None] = []
    require_redis = services._require_redis

    def watched() -> None:
        asked_inside.append(open_transaction())
        require_redis()

    monkeypatch.setattr(services, "_require_redis", watched)
    call_command("start_strategy", grid.pk, stdout=io.StringIO())
    assert asked_inside == [None]
    assert Strategy.objects.get(pk=grid.pk).desired_state == "running"


def test_a_rolled_back_start_leaves_redis_as_it_was(grid, redis_client, django_capture_on_commit_callbacks):
    leftovers_of_a_past_run(redis_client, grid)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RolledBack):
        start_then_roll_back(grid)
    assert Strategy.objects.get(pk=grid.pk).desired_state == "stopped"
    assert co.stop_requested(redis_client, grid.pk) is not None
    assert co.backoff_error(redis_client, grid.pk) is not None
    assert queued("strategies") == 0


def test_a_stop_signals_and_queues_the_cancelling_only_once_committed(
    grid, redis_client, django_capture_on_commit_callbacks
):
    Strategy.objects.filter(pk=grid.pk).update(desired_state="running")
    make_order(grid, "buy", status="open")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        stop_strategy(grid, cancel_all=True)
    assert Strategy.objects.get(pk=grid.pk).desired_state == "stopped"
    assert co.stop_requested(redis_client, grid.pk) is None
    assert queued("control") == 0
    for callback in callbacks:
        callback()
    assert co.stop_requested(redis_client, grid.pk) == co.StopMode.CANCEL_ALL
    assert queued("control") == 1


def test_a_rolled_back_stop_sends_no_signal(grid, redis_client, django_capture_on_commit_callbacks):
    Strategy.objects.filter(pk=grid.pk).update(desired_state="running")
    make_order(grid, "buy", status="open")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RolledBack):
        stop_then_roll_back(grid)
    assert Strategy.objects.get(pk=grid.pk).desired_state == "running"
    assert co.stop_requested(redis_client, grid.pk) is None
    assert queued("control") == 0


# --- the running list ------------------------------------------------------------------------------------------
def test_the_running_list_is_built_once_and_kept_until_forgotten(
    grid, redis_client, django_assert_num_queries, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(services, "RUNNING_CACHE_SECONDS", 60)  # not expired by a slow machine mid-test
    Strategy.objects.filter(pk=grid.pk).update(desired_state="running")
    with django_assert_num_queries(1):
        first = running_list(grid.owner)
    assert redis_client.get(RUNNING_CACHE_KEY.format(user=grid.owner_id)) == first.decode()
    with django_assert_num_queries(0):
        assert running_list(grid.owner) == first
    with django_capture_on_commit_callbacks(execute=True):
        stop_strategy(grid)
    assert redis_client.get(RUNNING_CACHE_KEY.format(user=grid.owner_id)) is None
    assert running_list(grid.owner) == b"[]"  # stopped, and no engine left a status


def test_the_browsable_api_shows_the_same_running_list(alice, grid, redis_client):
    Strategy.objects.filter(pk=grid.pk).update(desired_state="running")
    client = APIClient()
    client.force_authenticate(alice)
    as_json = client.get("/api/strategies/running").json()
    page = client.get("/api/strategies/running", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert as_json[0]["name"] in page.content.decode()


def test_the_demo_command_says_why_it_did_not_start_the_demo(alice, redis_client):
    alice.is_superuser = True
    alice.save()
    make_paper_account(alice, name="Demo paper account", is_active=False)
    with pytest.raises(CommandError, match="created but not started: Account 'Demo paper account' is inactive"):
        call_command("create_demo", stdout=io.StringIO())
    assert Strategy.objects.get(owner=alice).desired_state == "stopped"
