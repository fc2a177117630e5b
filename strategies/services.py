"""Writes to strategies, shared by the API, the admin and the management commands.

They raise domain errors (strategies/errors.py, accounts/errors.py), never HTTP ones: the API maps them to a
status (aresbot/api.py), the admin and the commands show their message. Redis is written only after the database
change commits (`transaction.on_commit`): a rolled-back start or stop leaves no signal behind.
"""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from rest_framework.renderers import JSONRenderer

from aresbot.errors import RedisUnavailable
from aresbot.redis import get_redis
from exchanges.base import ACTIVE_STATUSES
from strategies.choices import DesiredState, StoppedBy
from strategies.errors import StrategyAlreadyRunning, StrategyIsRunning
from strategies.models import Strategy
from strategies.status import StrategyRef, runtime_view
from trading.models import Order
from trading.runtime import coordination as co
from trading.runtime.queues import enqueue_run, enqueue_stop_without_engine

log = logging.getLogger(__name__)

# The running list a user's dashboard polls is kept this long; any write to the user's strategies drops it, so
# only the engines' own status updates can be up to this old.
RUNNING_CACHE_KEY = "api:running:{user}"
RUNNING_CACHE_SECONDS = 1.0


def running_list(user: AbstractBaseUser | AnonymousUser) -> bytes:
    """The JSON of every strategy of the user that should run or that an engine still holds, with its node: one
    query and two Redis calls, then kept for RUNNING_CACHE_SECONDS (dashboards poll it; engines rewrite their
    status once per tick anyway; start/stop/edit/delete drop the copy at once through forget_running)."""
    client = get_redis()
    key = RUNNING_CACHE_KEY.format(user=user.pk)
    if (cached := client.get(key)) is not None:
        return cached if isinstance(cached, bytes) else str(cached).encode()
    # Plain tuples, not model instances: building 100 Strategy objects cost more than the query itself.
    strategies = [
        StrategyRef(*row)
        for row in Strategy.objects.filter(owner_id=user.pk).values_list("id", "name", "symbol", "desired_state")
    ]
    statuses = co.read_statuses(client, [s.pk for s in strategies])
    # A stopped strategy stays listed only while an engine still holds it (it is cancelling its orders); a hash
    # it left behind without a lease (a run that failed, a node that died) is history, not something running.
    leased = co.leased_ids(client, [s.pk for s in strategies if s.desired_state != DesiredState.RUNNING])
    rows = [
        runtime_view(s, statuses.get(s.pk, {}))
        for s in strategies
        if s.desired_state == DesiredState.RUNNING or s.pk in leased
    ]
    # The API's own encoder: a kept copy and a fresh answer are the same bytes.
    body = JSONRenderer().render(rows)
    client.set(key, body, px=int(RUNNING_CACHE_SECONDS * 1000))
    return body


def forget_running(owner_id: int) -> None:
    try:
        get_redis().delete(RUNNING_CACHE_KEY.format(user=owner_id))
    except redis.RedisError:
        pass  # the copy expires within RUNNING_CACHE_SECONDS anyway; a write must not fail over a cache


def delete_strategy(strategy: Strategy) -> None:
    """StrategyIsRunning when it should run: stop it first, so its engine cancels what it has resting."""
    with transaction.atomic():
        # The row lock makes "check it is stopped, then delete" one step against a concurrent start.
        locked = Strategy.objects.select_for_update().get(pk=strategy.pk)
        if locked.desired_state == DesiredState.RUNNING:
            raise StrategyIsRunning(locked.name)
        locked.delete()


def _require_redis() -> None:
    """RedisUnavailable when Redis does not answer: a start or stop is refused before anything changes, rather
    than recorded in the database as a change the workers never hear of."""
    try:
        get_redis().ping()
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        log.warning("redis unreachable: %s", exc)
        raise RedisUnavailable() from None


def start_strategy(strategy: Strategy) -> Strategy:
    """Mark the strategy to run and queue its engine once the change is committed.

    StrategyAlreadyRunning when it already runs; AccountCannotTrade naming the reason when its account cannot;
    RedisUnavailable, with nothing changed, when Redis does not answer.
    """
    strategy.account.check_can_trade()
    _require_redis()
    with transaction.atomic():
        # Conditional update: of two simultaneous starts, exactly one changes the row.
        changed = Strategy.objects.filter(pk=strategy.pk, desired_state=DesiredState.STOPPED).update(
            desired_state=DesiredState.RUNNING, cancel_all_on_stop=False, stopped_by=""
        )
        if changed != 1:
            raise StrategyAlreadyRunning(strategy.name)
        transaction.on_commit(lambda: _after_start(strategy.pk, strategy.owner_id))
    strategy.refresh_from_db()
    return strategy


def _after_start(strategy_id: int, owner_id: int) -> None:
    try:
        client = get_redis()
        # Before the enqueue: a stop signal left by the last run must not stop the new engine, and a past
        # failure's backoff must not hold it back.
        co.clear_stop(client, strategy_id)
        co.clear_failures(client, strategy_id)
        enqueue_run(strategy_id)
    except redis.RedisError as exc:
        # Redis went away after the check: the start is recorded, and the supervisor queues every strategy that
        # should run and has no engine as soon as Redis is back.
        log.warning(
            "strategy %s: start recorded, engine not queued (%s); the supervisor will queue it", strategy_id, exc
        )
    forget_running(owner_id)


def stop_strategy(strategy: Strategy, *, cancel_all: bool = False, by: StoppedBy = StoppedBy.OWNER) -> Strategy:
    """Idempotent. The engine sees the signal within STRATEGY_STOP_POLL_INTERVAL, cancels its open buys (and
    with `cancel_all` its take-profits), writes its last status and releases the lease. When no engine holds
    the strategy, a control job does the cancelling instead, so nothing is left resting. `by` is who asks: the
    stopped event says it (the API: the owner; the admin and the operator's command: an admin).

    When Redis does not answer nothing changes (RedisUnavailable). The stop, with its
    cancel_all, is recorded in the database before the signal goes out, so should Redis fail in between, the
    engine still stops as asked at its next database check (it reads the strategy every few seconds)."""
    _require_redis()
    with transaction.atomic():
        Strategy.objects.filter(pk=strategy.pk).update(
            desired_state=DesiredState.STOPPED, cancel_all_on_stop=cancel_all, stopped_by=by
        )
        transaction.on_commit(lambda: _after_stop(strategy.pk, strategy.owner_id, cancel_all))
    strategy.refresh_from_db()
    return strategy


def _after_stop(strategy_id: int, owner_id: int, cancel_all: bool) -> None:
    forget_running(owner_id)
    try:
        client = get_redis()
        # Long enough for the slowest tick to notice; short enough never to stop a later start.
        co.raise_stop(client, strategy_id, ttl_seconds=settings.STRATEGY_LOCK_TTL * 2, cancel_all=cancel_all)
        co.clear_enqueued(client, strategy_id)
        no_engine = client.get(co.LOCK_KEY.format(id=strategy_id)) is None
        if no_engine:
            # The status a failed run or a dead node left behind; a running engine removes its own when it stops.
            co.delete_status(client, strategy_id)
        if no_engine and Order.objects.filter(strategy_id=strategy_id, status__in=ACTIVE_STATUSES).exists():
            enqueue_stop_without_engine(strategy_id, cancel_all)
    except redis.RedisError as exc:
        log.warning(
            "strategy %s: stop recorded, signal not sent (%s); its engine stops at its next database check",
            strategy_id,
            exc,
        )
