"""The daily summary: at each channel's chosen hour in TIME_ZONE, the 24 hours before it for the channel's owner —
realized PnL per quote currency, fills, cycles (lots closed), open positions now, errors.

Claimed with one conditional UPDATE per channel and day, so two passes never both send it; a send that fails
gives the claim back, and a pass tries again once the channel has not failed for SUMMARY_RETRY (a dead service
would otherwise cost the notify worker its timeouts every minute), until the next day's summary replaces it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils import timezone

from notifications import apprise_urls
from notifications.delivery import record_outcome
from notifications.kinds import DAILY_SUMMARY
from notifications.models import NotificationChannel
from notifications.render import DailyFacts, at_price_precision, summary_message
from trading.models import Fill, Position, StrategyEvent

# Seconds between the summary passes (aresbot/cron.py).
SUMMARY_INTERVAL = 60
# A failing channel's summary waits this long after its last failure before the next try.
SUMMARY_RETRY = timedelta(minutes=10)


def summary_for(owner_id: int, start: datetime, end: datetime) -> DailyFacts:
    closed = Position.objects.filter(strategy__owner_id=owner_id, closed_at__gte=start, closed_at__lt=end)
    pnl: dict[str, Decimal] = defaultdict(Decimal)
    places: dict[str, str] = {}
    cycles = 0
    for symbol, realized, exit_price in closed.values_list("strategy__symbol", "realized_pnl", "exit_price"):
        quote = symbol.split("/")[-1].split(":")[0]
        pnl[quote] += realized or Decimal(0)
        places[quote] = str(exit_price or "")
        cycles += 1
    errors = StrategyEvent.objects.filter(
        strategy__owner_id=owner_id, kind="error", at__gte=start, first_at__lt=end
    ).aggregate(n=Sum("count"))["n"]
    return DailyFacts(
        pnl={quote: at_price_precision(str(total), places[quote]) for quote, total in pnl.items()},
        fills=Fill.objects.filter(strategy__owner_id=owner_id, executed_at__gte=start, executed_at__lt=end).count(),
        cycles=cycles,
        open_positions=Position.objects.filter(strategy__owner_id=owner_id, closed_at__isnull=True).count(),
        errors=int(errors or 0),
    )


def send_summaries(now: datetime | None = None) -> list[int]:
    """Send each summary that is due; the ids of the channels that took theirs."""
    now = now or timezone.now()
    local = timezone.localtime(now)
    today = local.date()
    sent = []
    candidates = (
        NotificationChannel.objects.filter(enabled=True, summary_hour__lte=local.hour)
        .filter(Q(last_summary_on__isnull=True) | Q(last_summary_on__lt=today))
        .exclude(status=NotificationChannel.Status.FAILING, last_failure_at__gt=now - SUMMARY_RETRY)
    )
    for channel in candidates:
        if DAILY_SUMMARY not in channel.kinds:
            continue
        previous = channel.last_summary_on
        claimed = (
            NotificationChannel.objects.filter(pk=channel.pk, last_summary_on=previous).update(last_summary_on=today)
            if previous is not None
            else NotificationChannel.objects.filter(pk=channel.pk, last_summary_on__isnull=True).update(
                last_summary_on=today
            )
        )
        if not claimed:
            continue
        end = local.replace(hour=channel.summary_hour, minute=0, second=0, microsecond=0)
        facts = summary_for(channel.owner_id, end - timedelta(days=1), end)
        title, body = summary_message(channel.language, today.isoformat(), facts)
        result = apprise_urls.send(channel.plain_url(), title, body)
        record_outcome(channel, result, now)
        if result.ok:
            sent.append(channel.pk)
        else:
            NotificationChannel.objects.filter(pk=channel.pk, last_summary_on=today).update(last_summary_on=previous)
    return sent
