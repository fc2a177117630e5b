"""RQ cron configuration, loaded by `manage.py rqcron aresbot.cron` (the scheduler service).

The supervisor runs on the control queue, which has a worker of its own on every node, so strategy workers that
are busy running engines can never starve it.
"""

from django.conf import settings
from rq import cron

from notifications.outbox import notify_pass
from notifications.summary import SUMMARY_INTERVAL, send_summaries
from trading.backtests.rescue import RESCUE_INTERVAL
from trading.events import PURGE_INTERVAL, purge_events
from trading.runtime.jobs import rescue_lost_jobs, supervise
from trading.runtime.queues import CONTROL_QUEUE, NOTIFY_QUEUE
from trading.tally import TALLY_INTERVAL, seal

cron.register(
    supervise,
    queue_name=CONTROL_QUEUE,
    interval=settings.SUPERVISE_INTERVAL,
    # A pass that waited longer than two intervals is out of date: drop it, the next one is coming.
    ttl=2 * settings.SUPERVISE_INTERVAL,
    result_ttl=60,
    failure_ttl=24 * 3600,
    name="supervise",
)

# The fills' daily tallies for the trade statistics (trading/tally.py): a minute behind at most, read together with
# the fills above their watermark, so the statistics never wait for it.
cron.register(
    seal,
    queue_name=CONTROL_QUEUE,
    interval=TALLY_INTERVAL,
    ttl=2 * TALLY_INTERVAL,
    result_ttl=60,
    failure_ttl=24 * 3600,
    name="seal-fill-tallies",
)

# Backtests, sweep chunks and downloads whose RQ job was lost (Redis flushed or restarted empty, a job expired): queued
# again once, failed with the reason after a second loss (trading/backtests/rescue.py).
cron.register(
    rescue_lost_jobs,
    queue_name=CONTROL_QUEUE,
    interval=RESCUE_INTERVAL,
    ttl=2 * RESCUE_INTERVAL,
    result_ttl=60,
    failure_ttl=24 * 3600,
    name="rescue-lost-backtest-jobs",
)

# Strategy events older than EVENT_RETENTION_DAYS (trading/events.py).
cron.register(
    purge_events,
    queue_name=CONTROL_QUEUE,
    interval=PURGE_INTERVAL,
    ttl=2 * PURGE_INTERVAL,
    result_ttl=60,
    failure_ttl=24 * 3600,
    name="purge-strategy-events",
)

# Notifications (notifications/outbox.py): new strategy events into the outbox, and a delivery job per channel with
# messages due, on the notify queue's own worker.
cron.register(
    notify_pass,
    queue_name=NOTIFY_QUEUE,
    interval=settings.NOTIFY_INTERVAL,
    ttl=2 * settings.NOTIFY_INTERVAL,
    result_ttl=60,
    failure_ttl=24 * 3600,
    name="notify",
)

# Each channel's daily summary at its hour in TIME_ZONE (notifications/summary.py), once a day.
cron.register(
    send_summaries,
    queue_name=NOTIFY_QUEUE,
    interval=SUMMARY_INTERVAL,
    ttl=2 * SUMMARY_INTERVAL,
    result_ttl=60,
    failure_ttl=24 * 3600,
    name="notify-daily-summary",
)
