"""Strategy events on the ORM: the writer with the repeat rule, the runtime's own events, and the retention purge.

The engine's events reach `write_events` through OrmJournal.save, inside the transaction of the change they
describe; the runtime's (started, stopped, handed over, failed over) through `record_events`, in a transaction of
their own. The records are trading.core.events.Event; the model is trading.models.StrategyEvent.

The repeat rule: an event with a key is added to the newest event of its strategy with the same key when that one
happened at most REPEAT_WINDOW before it (count + its count, `at` and `data` the latest); otherwise it is a new row.
So an error raised every tick for an hour is one row with a count, and the same error the next day is a new one. The
engine throttles its repeats before they get here (trading.core.events.RepeatThrottle): an error every tick is one
UPDATE per REPEAT_FLUSH, carrying the count of the repeats in between, not one per tick.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from trading.core.events import SEVERITY, Event, EventKind, Severity, event, repeat_family
from trading.models import StrategyEvent

__all__ = [
    "REPEAT_WINDOW",
    "RUN_ENDED_ON_ERROR",
    "RUN_KINDS",
    "SEVERITY",
    "Event",
    "EventKind",
    "Severity",
    "event",
    "last_run_event",
    "mark_run_ended_on_error",
    "purge_events",
    "record_events",
    "summary",
    "write_events",
]

REPEAT_WINDOW = timedelta(hours=1)
# Rows one purge statement deletes at most: a long first purge must not hold locks on the whole table.
PURGE_BATCH = 5000
# Seconds between purges (aresbot/cron.py).
PURGE_INTERVAL = 3600


def write_events(strategy_id: int, events: Sequence[Event]) -> None:
    """Write the events, applying the repeat rule. Call inside the caller's transaction (the state change's)."""
    new = []
    for ev in events:
        if ev.key:
            family = repeat_family(ev.key)
            newest = (
                StrategyEvent.objects.filter(strategy_id=strategy_id, dedupe_key__in=family)
                .order_by("-id")
                .values_list("pk", "at", "dedupe_key")
                .first()
            )
            if newest is not None and newest[2] == ev.key and ev.at - newest[1] <= REPEAT_WINDOW:
                StrategyEvent.objects.filter(pk=newest[0]).update(
                    count=F("count") + ev.count, at=ev.at, data=dict(ev.data)
                )
                continue
        new.append(
            StrategyEvent(
                strategy_id=strategy_id,
                kind=str(ev.kind),
                severity=str(ev.severity),
                at=ev.at,
                first_at=ev.at,
                dedupe_key=ev.key[:200],
                count=ev.count,
                data=dict(ev.data),
            )
        )
    if new:
        # One by one, not bulk_create: the ids must come out in the order the events happened (the feed's order).
        for row in new:
            row.save(force_insert=True)


def record_events(strategy_id: int, events: Sequence[Event]) -> None:
    """Write events that change no trading state (the runtime's), in a transaction of their own."""
    with transaction.atomic():
        write_events(strategy_id, events)


# The runtime's record of a strategy's runs: the latest of these says how its last run ended, or that it did not.
RUN_KINDS = (EventKind.STARTED, EventKind.STOPPED, EventKind.HANDED_OVER)
# A started event's data["ended"] once its run ended on an error: it did not die, the supervisor backs off and retries.
RUN_ENDED_ON_ERROR = "error"


def last_run_event(strategy_id: int) -> Event | None:
    """The strategy's latest started, stopped or handed-over event (one indexed query), or None. Failed-over events
    are not needed: each is written with the started event of the run it describes."""
    row = (
        StrategyEvent.objects.filter(strategy_id=strategy_id, kind__in=RUN_KINDS)
        .order_by("-id")
        .values_list("kind", "at", "data")
        .first()
    )
    return None if row is None else Event(EventKind(row[0]), row[1], row[2] or {})


def mark_run_ended_on_error(strategy_id: int, job: str) -> None:
    """Note on the run's started event that it ended on an error (the runtime's own, not a node that died)."""
    with transaction.atomic():
        started = (
            StrategyEvent.objects.select_for_update()
            .filter(strategy_id=strategy_id, kind=EventKind.STARTED)
            .order_by("-id")
            .first()
        )
        if started is not None and started.data.get("job") == job:
            started.data = {**started.data, "ended": RUN_ENDED_ON_ERROR}
            started.save(update_fields=["data"])


def purge_events() -> int:
    """Delete the events older than EVENT_RETENTION_DAYS, in batches; how many went."""
    cutoff = timezone.now() - timedelta(days=settings.EVENT_RETENTION_DAYS)
    deleted = 0
    while True:
        old = StrategyEvent.objects.filter(at__lt=cutoff).order_by("id").values_list("pk", flat=True)
        ids = list(old[:PURGE_BATCH])
        if not ids:
            return deleted
        deleted += StrategyEvent.objects.filter(pk__in=ids).delete()[0]


def _money(data: Mapping[str, Any], amount: str, currency: str = "") -> str:
    value = data.get(amount)
    return f"{value} {data.get(currency, '')}".strip() if value is not None else "?"


_SUMMARIES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    EventKind.STARTED: lambda d: f"Started on {d.get('node', '?')}",
    EventKind.STOPPED: lambda d: f"Stopped by {d.get('by', '?')}, cancelling {d.get('cancel_mode', 'buys')}",
    EventKind.HANDED_OVER: lambda d: f"Handed over by {d.get('node', '?')}: {d.get('reason', '')}",
    EventKind.FAILED_OVER: lambda d: (
        f"Failed over from {d.get('from_node', '?')} to {d.get('to_node', '?')} after "
        # null: the dead run left no sign of life to measure from (its status hash had expired)
        + (f"{d['gap_seconds']} s" if d.get("gap_seconds") is not None else "an unknown gap")
    ),
    EventKind.BUY_FILLED: lambda d: f"Bought {d.get('amount', '?')} {d.get('symbol', '')} at {d.get('price', '?')}",
    EventKind.TAKE_PROFIT_FILLED: lambda d: (
        f"Take-profit sold {d.get('amount', '?')} {d.get('symbol', '')} at {d.get('price', '?')}, "
        f"PnL {_money(d, 'lot_pnl', 'quote')}"
    ),
    EventKind.STOP_LOSS_SOLD: lambda d: (
        f"Stop-loss sold {d.get('amount', '?')} {d.get('symbol', '')} at {d.get('price', '?')}, "
        f"PnL {_money(d, 'lot_pnl', 'quote')}"
    ),
    EventKind.TIME_STOP_SOLD: lambda d: (
        f"Time stop sold {d.get('amount', '?')} {d.get('symbol', '')} at {d.get('price', '?')}, "
        f"PnL {_money(d, 'lot_pnl', 'quote')}"
    ),
    EventKind.LADDER_PLACED: lambda d: f"Ladder placed below {d.get('anchor', '?')}",
    EventKind.LADDER_TRAILED: lambda d: (
        f"Ladder trailed up from {d.get('from_anchor', '?')} to {d.get('to_anchor', '?')}"
    ),
    EventKind.PAUSED: lambda d: f"Buys paused: {d.get('detail') or d.get('reason', '?')}",
    EventKind.RESUMED: lambda d: f"Buys resumed ({d.get('reason', '?')} over)",
    EventKind.LEVEL_SKIPPED: lambda d: "Levels skipped: " + "; ".join(d.get("reasons", [])),
    EventKind.ERROR: lambda d: f"{d.get('error_class', 'Error')}: {d.get('message', '')}",
    EventKind.BALANCE_GAP: lambda d: (
        f"Balance gap: the lots hold {d.get('held', '?')} {d.get('asset', '')}, the account has {d.get('have', '?')}"
    ),
}


def summary(kind: str, data: Mapping[str, Any], count: int = 1) -> str:
    """An English line for an event (the API's `summary`; the web app and the notifier may render their own)."""
    render = _SUMMARIES.get(kind)
    text = render(data) if render is not None else kind
    return f"{text} (×{count})" if count > 1 else text
