"""Strategy events on the ORM: the writer with the repeat rule, the runtime's own events, and the retention purge.

The engine's events reach `write_events` through OrmJournal.save, inside the transaction of the change they
describe; the runtime's (started, stopped, handed over, failed over) through `record_events`, in a transaction of
their own. The records are trading.core.events.Event; the model is trading.models.StrategyEvent.

The repeat rule: an event with a key is added to the newest event of its strategy with the same key when that one
happened at most REPEAT_WINDOW before it (count + 1, `at` and `data` the latest); otherwise it is a new row. So an
error raised every tick for an hour is one row with a count, and the same error the next day is a new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from trading.core.events import SEVERITY, Event, EventKind, Severity, event
from trading.models import StrategyEvent

__all__ = [
    "REPEAT_WINDOW",
    "SEVERITY",
    "Event",
    "EventKind",
    "Severity",
    "event",
    "purge_events",
    "record_events",
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
            newest = (
                StrategyEvent.objects.filter(strategy_id=strategy_id, dedupe_key=ev.key)
                .order_by("-id")
                .values_list("pk", "at")
                .first()
            )
            if newest is not None and ev.at - newest[1] <= REPEAT_WINDOW:
                StrategyEvent.objects.filter(pk=newest[0]).update(count=F("count") + 1, at=ev.at, data=dict(ev.data))
                continue
        new.append(
            StrategyEvent(
                strategy_id=strategy_id,
                kind=str(ev.kind),
                severity=str(ev.severity),
                at=ev.at,
                first_at=ev.at,
                dedupe_key=ev.key[:200],
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
