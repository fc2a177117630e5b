"""A StrategyRunner in a thread of the test process, on a paper account whose price stands still.

The in-process way to watch the runtime's safety rules: the runner takes its lease in the real Redis (REDIS_URL)
and trades on the paper book in the test database, as an RQ work-horse would, but the test can look at the book,
the lease and the journal while it runs. Tests using it need `django_db(transaction=True)`: the runner's thread
has a database connection of its own and must see the rows the test committed.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any

import redis
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import QuerySet

from exchanges.clock import SystemClock
from exchanges.models import PaperOrderRecord
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.feeds import feed_from_spec
from exchanges.paper.store import DbPaperStore, book_key
from strategies.choices import DesiredState
from strategies.models import Strategy
from tests.factories import make_paper_account, make_strategy
from tests.processes import wait_until
from trading.runtime import coordination as co
from trading.runtime.runner import StrategyRunner

SYMBOL = "BTC/USDT"


def still_feed() -> dict[str, str]:
    """A random walk with no volatility: 30000 for ever, so nothing fills or reprices unless a test makes it."""
    return {
        "kind": "random_walk",
        "start_price": "30000",
        "start": datetime.now(UTC).isoformat(),
        "tick": "0.01",
        "volatility_pct": "0",
    }


def still_strategy(owner: User, account_name: str = "paper", **kwargs: Any) -> Strategy:
    """A paper strategy that should run (desired state running), 3 buys 1 % apart under a price of 30000, on a paper
    account of its own named `account_name`."""
    account = make_paper_account(owner, name=account_name)
    DbPaperStore(book_key(account.pk), account.paper_balances).ensure_feed_spec(SYMBOL, still_feed())
    values: dict[str, Any] = {"grid_levels": 3, "loop_interval": Decimal("0.5")}
    values.update(kwargs)
    strategy = make_strategy(owner, account, **values)
    Strategy.objects.filter(pk=strategy.pk).update(desired_state=DesiredState.RUNNING)
    strategy.refresh_from_db()
    return strategy


def book_orders(strategy: Strategy, **filters: Any) -> QuerySet[PaperOrderRecord]:
    """What reached the exchange: the orders on the strategy's paper book."""
    return PaperOrderRecord.objects.filter(book__key=book_key(strategy.account_id), **filters)


def open_buy_prices(strategy: Strategy) -> list[Decimal]:
    prices = book_orders(strategy, status="open", side="buy").values_list("price", flat=True)
    return sorted((Decimal(p) for p in prices if p is not None), reverse=True)


def by_hand(strategy: Strategy) -> PaperExchange:
    """The strategy's paper exchange as its owner would use it beside the engine (the exchange's own website)."""
    store = DbPaperStore(book_key(strategy.account_id), strategy.account.paper_balances)
    return PaperExchange(
        store, feeds={SYMBOL: feed_from_spec(store.ensure_feed_spec(SYMBOL, still_feed()))}, clock=SystemClock()
    )


def lock_holder(client: redis.Redis, strategy: Strategy) -> str | None:
    value = client.get(co.LOCK_KEY.format(id=strategy.pk))
    return value.decode() if isinstance(value, bytes) else value


class RunnerThread:
    """`runner.run()` in a daemon thread; leaving the block stops it (stop signal) and waits for it to end."""

    def __init__(self, runner: StrategyRunner) -> None:
        self.runner = runner
        self.outcome: str | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"runner-{runner.strategy_id}", daemon=True)

    def _run(self) -> None:
        try:
            self.outcome = str(self.runner.run())
        except BaseException as exc:  # handed to the test by result()
            self.error = exc
        finally:
            connection.close()  # this thread's own connection, or the test database cannot be flushed

    def ended(self) -> bool:
        return not self._thread.is_alive()

    def result(self, timeout: float = 20) -> str:
        wait_until(self.ended, timeout, "the runner to end")
        if self.error is not None:
            raise self.error
        assert self.outcome is not None
        return self.outcome

    def __enter__(self) -> RunnerThread:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._thread.is_alive():
            co.raise_stop(self.runner.client, self.runner.strategy_id, ttl_seconds=60)
            self._thread.join(30)
