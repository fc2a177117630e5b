"""An edit of a running strategy reaches its engine: the runner reads the row every DB_CHECK_SECONDS and
reconfigures the engine, so the next tick places by the new grid without a restart."""

from __future__ import annotations

from decimal import Decimal

import pytest

from strategies.models import Strategy
from tests.processes import wait_until
from tests.runtime.threaded import RunnerThread, open_buy_prices, still_strategy
from trading.runtime import runner as runtime

pytestmark = pytest.mark.django_db(transaction=True)


def test_more_levels_at_a_new_offset_are_placed_while_the_strategy_runs(alice, redis_client, monkeypatch):
    monkeypatch.setattr(runtime, "DB_CHECK_SECONDS", 0.1)
    strategy = still_strategy(alice)
    runtime.co.mark_enqueued(redis_client, strategy.pk, ttl_seconds=60)  # as the API left it
    with RunnerThread(runtime.StrategyRunner(strategy.pk, "job-1", client=redis_client)) as run:
        ladder = [Decimal("29700"), Decimal("29400"), Decimal("29100")]  # 30000 × (1 − 1 % × i)
        wait_until(lambda: open_buy_prices(strategy) == ladder, 20, "the ladder on the book")
        edited = Strategy.objects.get(pk=strategy.pk)
        edited.grid_levels = 4
        edited.buy_offset_pct = Decimal("1.5")
        edited.save()
        # The resting buys stay; the free slot takes the nearest level of the new ladder (29550, 29100, …)
        # that no buy holds: 30000 × (1 − 1.5 %).
        wait_until(lambda: len(open_buy_prices(strategy)) == 4, 20, "a fourth buy on the book")
        assert open_buy_prices(strategy) == [Decimal("29700"), Decimal("29550"), Decimal("29400"), Decimal("29100")]
        runtime.co.raise_stop(redis_client, strategy.pk, ttl_seconds=60)
        assert run.result() == "stopped"
    # A clean stop leaves nothing behind: no lease, no status, no stop signal for the next start to trip on.
    assert redis_client.keys("strategy:*") == []
