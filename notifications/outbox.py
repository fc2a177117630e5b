"""The notification outbox: strategy events fanned out to their owners' channels, delivered by RQ jobs.

- `notify_pass` (cron, every NOTIFY_INTERVAL s on the notify queue): `fan_out` reads the events above the mark into
  outbox rows, one per (event, channel), unique, so reading an event twice adds nothing; then one delivery job is
  queued per channel with rows due.
- `deliver_channel` (notify queue): takes the channel's send lock in Redis (one sender per channel, in event order),
  sends its due rows — more than BURST of them as one digest message — and marks them sent after the service
  accepted them. A failure backs the rows off exponentially (settings.NOTIFY_BASE_BACKOFF_SECONDS·2ⁿ, up to
  MAX_BACKOFF; given up after MAX_ATTEMPTS) and marks the channel failing with the reason; the next success marks it
  ok. Each channel has its own job and lock, so a dead one never delays another, and nothing here runs in an engine.

At least once: a worker killed after the service took a message and before the row was marked sends it again; the
event id in every line (`(#123)`) lets a reader (or a webhook) tell a repeat. No transaction is held across a send.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from aresbot.redis import get_queue, get_redis
from notifications import apprise_urls
from notifications.delivery import record_outcome
from notifications.models import FanOutMark, NotificationChannel, OutboxMessage
from notifications.render import EventFacts, event_message
from trading.models import StrategyEvent
from trading.runtime.queues import FAILURE_TTL, NOTIFY_QUEUE

logger = logging.getLogger(__name__)

DELIVER_JOB = "notifications.outbox.deliver_channel"
# More due messages than this for one channel (they pile up within a pass or two: a minute at most) go as one digest.
BURST = 5
# Rows one delivery job sends at most (one digest); the rest go in the next job, queued at once.
MAX_BATCH = 200
MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(hours=1)
# Event ids behind the mark that each pass reads again: an event whose transaction committed after a higher id was
# read is still fanned out (the unique row makes the second read a no-op).
RESCAN_IDS = 500
FAN_OUT_BATCH = 2000
# A sender holds its channel's lock this long at most per send (apprise's connect + read timeouts, and a margin); a
# killed sender's lock runs out within it and the rows go again.
SEND_LOCK_TTL = int(2 * apprise_urls.SEND_TIMEOUT_SECONDS) + 5
_QUEUED_TTL = 120


def backoff(attempts: int) -> timedelta:
    # The base is read at each call, not at import: a setting, so a test's worker process can shorten it.
    base = timedelta(seconds=settings.NOTIFY_BASE_BACKOFF_SECONDS)
    return min(MAX_BACKOFF, base * 2 ** max(0, attempts - 1))


def fan_out(now: datetime | None = None) -> int:
    """Outbox rows for the events above the mark (and RESCAN_IDS below it); how many events were read."""
    now = now or timezone.now()
    mark, _ = FanOutMark.objects.get_or_create(id=1)
    events = list(
        StrategyEvent.objects.filter(id__gt=max(0, mark.last_event_id - RESCAN_IDS))
        .order_by("id")
        .values_list("id", "kind", "strategy__owner_id")[:FAN_OUT_BATCH]
    )
    if not events:
        return 0
    channels: dict[int, list[NotificationChannel]] = {}
    for channel in NotificationChannel.objects.filter(enabled=True, owner_id__in={e[2] for e in events}):
        channels.setdefault(channel.owner_id, []).append(channel)
    rows = [
        OutboxMessage(event_id=event_id, channel_id=channel.pk, next_attempt_at=now)
        for event_id, kind, owner_id in events
        for channel in channels.get(owner_id, ())
        # a channel receives what happened after it was added, not the backlog re-read below the mark
        if kind in channel.kinds and event_id > channel.after_event_id
    ]
    with transaction.atomic():
        OutboxMessage.objects.bulk_create(rows, ignore_conflicts=True)
        FanOutMark.objects.filter(id=1, last_event_id__lt=events[-1][0]).update(last_event_id=events[-1][0])
    return len(events)


def enqueue_due(now: datetime | None = None) -> list[int]:
    """One delivery job per channel with rows due (none for a channel whose job is queued already)."""
    now = now or timezone.now()
    channel_ids = sorted(
        set(
            OutboxMessage.objects.filter(
                state=OutboxMessage.State.PENDING, next_attempt_at__lte=now, channel__enabled=True
            ).values_list("channel_id", flat=True)
        )
    )
    queued = []
    for channel_id in channel_ids:
        if enqueue_delivery(channel_id):
            queued.append(channel_id)
    return queued


def enqueue_delivery(channel_id: int) -> bool:
    if not get_redis().set(f"notify:queued:{channel_id}", "1", nx=True, ex=_QUEUED_TTL):
        return False
    get_queue(NOTIFY_QUEUE).enqueue(
        DELIVER_JOB,
        channel_id,
        job_id=f"notify-{channel_id}-{uuid.uuid4().hex[:12]}",
        result_ttl=600,
        failure_ttl=FAILURE_TTL,
        description=f"deliver notifications to channel {channel_id}",
    )
    return True


def notify_pass() -> dict[str, int]:
    """The cron pass: fan out, then queue the deliveries due."""
    added = fan_out()
    return {"events": added, "queued": len(enqueue_due())}


def _facts(row: OutboxMessage) -> EventFacts:
    event = row.event
    return EventFacts(event.pk, event.kind, event.count, event.strategy.name, event.strategy.symbol, event.data)


def deliver_channel(channel_id: int) -> int:
    """Send the channel's due rows; how many the service accepted."""
    client = get_redis()
    client.delete(f"notify:queued:{channel_id}")
    lock_key, token = f"notify:sending:{channel_id}", uuid.uuid4().hex
    if not client.set(lock_key, token, nx=True, ex=SEND_LOCK_TTL):
        return 0  # another sender has it; what it leaves due, the next pass queues again
    sent = 0
    try:
        channel = NotificationChannel.objects.filter(pk=channel_id, enabled=True).first()
        if channel is None:
            return 0
        due = list(
            OutboxMessage.objects.filter(
                channel_id=channel_id, state=OutboxMessage.State.PENDING, next_attempt_at__lte=timezone.now()
            )
            .select_related("event", "event__strategy")
            .order_by("event_id")[:MAX_BATCH]
        )
        batches = [due] if len(due) > BURST else [[row] for row in due]
        url = channel.plain_url()
        for batch in batches:
            client.expire(lock_key, SEND_LOCK_TTL)
            title, body = event_message(channel.language, [_facts(row) for row in batch])
            result = apprise_urls.send(url, title, body)
            now = timezone.now()
            ids = [row.pk for row in batch]
            record_outcome(channel, result, now)
            if result.ok:
                OutboxMessage.objects.filter(pk__in=ids).update(
                    state=OutboxMessage.State.SENT, sent_at=now, attempts=F("attempts") + 1
                )
                sent += len(batch)
                continue
            attempts = max(row.attempts for row in batch) + 1
            state = OutboxMessage.State.DEAD if attempts >= MAX_ATTEMPTS else OutboxMessage.State.PENDING
            # the whole channel's backlog waits with it, so the messages keep their order when it recovers
            OutboxMessage.objects.filter(channel_id=channel_id, state=OutboxMessage.State.PENDING).update(
                next_attempt_at=now + backoff(attempts)
            )
            OutboxMessage.objects.filter(pk__in=ids).update(attempts=attempts, state=state)
            logger.warning(
                "notification channel %s failing (attempt %s of %s): %s",
                channel_id,
                attempts,
                MAX_ATTEMPTS,
                result.reason,
            )
            return sent
    finally:
        # release only our own lock (a compare-and-delete: ours may have run out and another sender taken it)
        client.eval(
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",
            1,
            lock_key,
            token,
        )
    if len(due) == MAX_BATCH:
        enqueue_delivery(channel_id)
    return sent
