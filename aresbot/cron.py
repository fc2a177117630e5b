"""RQ cron configuration, loaded by `manage.py rqcron aresbot.cron` (the scheduler service).

The supervisor runs on the control queue, which has a worker of its own on every node, so strategy workers that
are busy running engines can never starve it.
"""

from collections.abc import Callable

from django.conf import settings
from rq import cron

from notifications.outbox import notify_pass
from notifications.summary import SUMMARY_INTERVAL, send_summaries
from trading.backtests.rescue import RESCUE_INTERVAL
from trading.events import PURGE_INTERVAL, purge_events
from trading.runtime.jobs import rescue_lost_jobs, supervise
from trading.runtime.queues import CONTROL_QUEUE, NOTIFY_QUEUE
from trading.tally import TALLY_INTERVAL, seal


def _every(func: Callable[[], object], interval: int, name: str, queue: str = CONTROL_QUEUE) -> None:
    """Run `func` every `interval` seconds on `queue`. A pass that waited longer than two intervals is out of date:
    dropped, the next one is coming."""
    cron.register(
        func,
        queue_name=queue,
        interval=interval,
        ttl=2 * interval,
        result_ttl=60,
        failure_ttl=24 * 3600,
        name=name,
    )


_every(supervise, settings.SUPERVISE_INTERVAL, "supervise")

# The fills' daily tallies for the trade statistics (trading/tally.py): a minute behind at most, read together with
# the fills above their watermark, so the statistics never wait for it.
_every(seal, TALLY_INTERVAL, "seal-fill-tallies")

# Backtests, sweep chunks and downloads whose RQ job was lost (Redis flushed or restarted empty, a job expired): queued
# again once, failed with the reason after a second loss (trading/backtests/rescue.py).
_every(rescue_lost_jobs, RESCUE_INTERVAL, "rescue-lost-backtest-jobs")

# Strategy events older than EVENT_RETENTION_DAYS (trading/events.py).
_every(purge_events, PURGE_INTERVAL, "purge-strategy-events")

# Notifications (notifications/outbox.py): new strategy events into the outbox, and a delivery job per channel with
# messages due, on the notify queue's own worker.
_every(notify_pass, settings.NOTIFY_INTERVAL, "notify", queue=NOTIFY_QUEUE)

# Each channel's daily summary at its hour in TIME_ZONE (notifications/summary.py), once a day.
_every(send_summaries, SUMMARY_INTERVAL, "notify-daily-summary", queue=NOTIFY_QUEUE)
