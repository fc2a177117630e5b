"""manage.py workerhealth [--scheduler]: exit 0 when this node's workers (or the cron scheduler) are alive.

For container health checks: Redis answers, and this node's heartbeat (or a registered cron scheduler) is fresh.
"""

from __future__ import annotations

from typing import Any

import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rq.cron_scheduler_registry import get_keys

from aresbot.redis import get_redis
from trading.runtime import coordination as co


class Command(BaseCommand):
    help = "Health check for worker and scheduler containers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scheduler", action="store_true", help="Check the RQ cron scheduler instead.")

    def handle(self, *args: Any, **options: Any) -> None:
        client = get_redis()
        try:
            client.ping()
            if options["scheduler"]:
                if not get_keys(client):
                    raise CommandError("no RQ cron scheduler is registered")
            else:
                ip, _ = co.node_identity(settings.WORKER_IP)
                if not client.exists(co.HEARTBEAT_KEY.format(ip=ip)):
                    raise CommandError(f"no worker heartbeat for {ip}")
        except redis.RedisError as exc:
            raise CommandError(f"Redis unreachable: {type(exc).__name__}") from exc
        self.stdout.write("ok")
