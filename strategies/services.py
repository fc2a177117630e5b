"""Writes to strategies, shared by the API, the admin and the management commands."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import transaction
from rest_framework.exceptions import ValidationError

from aresbot.api import Conflict
from aresbot.redis import get_redis
from exchanges import registry
from exchanges.base import ACTIVE_STATUSES
from strategies.choices import DesiredState
from strategies.models import Strategy
from trading.models import Order
from trading.runtime import coordination as co

# The running list a user's dashboard polls is kept this long (strategies/api/views.py); any write to the user's
# strategies drops it, so only the engines' own status updates can be up to this old.
RUNNING_CACHE_KEY = "api:running:{user}"
RUNNING_CACHE_SECONDS = 1.0


def forget_running(owner_id: int) -> None:
    try:
        get_redis().delete(RUNNING_CACHE_KEY.format(user=owner_id))
    except redis.RedisError:
        pass  # the copy expires within RUNNING_CACHE_SECONDS anyway; a write must not fail over a cache


def delete_strategy(strategy: Strategy) -> None:
    with transaction.atomic():
        # The row lock makes "check it is stopped, then delete" one step against a concurrent start.
        locked = Strategy.objects.select_for_update().get(pk=strategy.pk)
        if locked.desired_state == DesiredState.RUNNING:
            raise Conflict(f"Strategy {locked.name!r} is running: stop it before deleting it.")
        locked.delete()


def start_strategy(strategy: Strategy) -> Strategy:
    """Mark the strategy to run and queue its engine once the change is committed.

    409 when it already runs; 400 naming the reason when its account cannot trade.
    """
    from trading.runtime.jobs import enqueue_run  # the runtime imports this module's models: import at call time

    account = strategy.account
    if not account.is_active:
        raise ValidationError({"account": f"Account {account.name!r} is inactive: activate it first."})
    if not registry.is_supported(account.exchange):
        raise ValidationError({"account": f"Account {account.name!r} names an unknown exchange."})
    needs = registry.credential_needs(account.exchange)
    if (needs.api_key and not account.api_key) or (needs.secret and not account.api_secret):
        raise ValidationError({"account": f"Account {account.name!r} has no API credentials."})
    with transaction.atomic():
        # Conditional update: of two simultaneous starts, exactly one changes the row.
        changed = Strategy.objects.filter(pk=strategy.pk, desired_state=DesiredState.STOPPED).update(
            desired_state=DesiredState.RUNNING
        )
        if changed != 1:
            raise Conflict(f"Strategy {strategy.name!r} is already running.")
        client = get_redis()
        co.clear_stop(client, strategy.pk)
        co.clear_failures(client, strategy.pk)
        transaction.on_commit(lambda: enqueue_run(strategy.pk))
        transaction.on_commit(lambda: forget_running(strategy.owner_id))
    strategy.refresh_from_db()
    return strategy


def stop_strategy(strategy: Strategy, *, cancel_all: bool = False) -> Strategy:
    """Idempotent. The engine sees the signal within STRATEGY_STOP_POLL_INTERVAL, cancels its open buys (and
    with `cancel_all` its take-profits), writes its last status and releases the lease. When no engine holds
    the strategy, a control job does the cancelling instead, so nothing is left resting."""
    from trading.runtime.jobs import enqueue_stop_without_engine

    Strategy.objects.filter(pk=strategy.pk).update(desired_state=DesiredState.STOPPED)
    client = get_redis()
    forget_running(strategy.owner_id)
    # Long enough for the slowest tick to notice; short enough never to stop a later start.
    co.raise_stop(client, strategy.pk, ttl_seconds=settings.STRATEGY_LOCK_TTL * 2, cancel_all=cancel_all)
    co.clear_enqueued(client, strategy.pk)
    no_engine = client.get(co.LOCK_KEY.format(id=strategy.pk)) is None
    if no_engine and Order.objects.filter(strategy=strategy, status__in=ACTIVE_STATUSES).exists():
        enqueue_stop_without_engine(strategy.pk, cancel_all)
    strategy.refresh_from_db()
    return strategy
