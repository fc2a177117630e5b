"""manage.py strategy_status: a table of every strategy that runs or should run, read like `redis-cli` would."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from aresbot.redis import get_redis
from strategies.choices import DesiredState
from strategies.models import Strategy
from trading.runtime import coordination as co


class Command(BaseCommand):
    help = "Table of strategies with their desired state, status hash, node and last error."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="Include stopped strategies without a status.")

    def handle(self, *args: Any, **options: Any) -> None:
        client = get_redis()
        strategies = list(Strategy.objects.select_related("owner").order_by("pk"))
        statuses = co.read_statuses(client, [s.pk for s in strategies])
        header = (
            f"{'id':>5}  {'name':<20} {'owner':<12} {'symbol':<12} {'want':<8} {'status':<9} {'node':<28} "
            f"{'price':>14} {'buys':>4} {'sells':>5} {'lots':>4} {'age':>6}  last error"
        )
        self.stdout.write(header)
        now = time.time()
        for s in strategies:
            raw = statuses.get(s.pk, {})
            if not raw and s.desired_state != DesiredState.RUNNING and not options["all"]:
                continue
            node = f"{raw.get('worker_hostname', '')} {raw.get('worker_ip', '')}".strip()
            age = f"{now - float(raw['updated_at']):.1f}s" if raw.get("updated_at") else "-"
            error = raw.get("last_error") or co.backoff_error(client, s.pk) or ""
            self.stdout.write(
                f"{s.pk:>5}  {s.name[:20]:<20} {s.owner.get_username()[:12]:<12} {s.symbol:<12} "
                f"{s.desired_state:<8} {raw.get('status', '-'):<9} {node[:28] or '-':<28} "
                f"{raw.get('current_price') or '-':>14} {raw.get('pending_buys', '-'):>4} "
                f"{raw.get('pending_sells', '-'):>5} {raw.get('position_count', '-'):>4} {age:>6}  {error[:60]}"
            )
        workers = co.active_workers(client)
        self.stdout.write(f"\nworkers:active: {', '.join(f'{ip} ({h})' for ip, h in workers.items()) or 'none'}")
