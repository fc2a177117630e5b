from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from aresbot.errors import DomainError
from strategies.choices import StoppedBy
from strategies.models import Strategy
from strategies.services import stop_strategy


class Command(BaseCommand):
    help = "Stop strategies (as POST /api/strategies/{id}/stop does, recorded as stopped by an admin); idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("strategy_ids", type=int, nargs="+")
        parser.add_argument("--cancel-all", action="store_true", help="Also cancel the take-profit sells.")

    def handle(self, *args: Any, strategy_ids: list[int], cancel_all: bool, **options: Any) -> None:
        missing = []
        for sid in strategy_ids:
            strategy = Strategy.objects.filter(pk=sid).first()
            if strategy is None:
                missing.append(sid)
                continue
            try:
                stop_strategy(strategy, cancel_all=cancel_all, by=StoppedBy.ADMIN)
            except DomainError as exc:
                raise CommandError(f"strategy {sid} ({strategy.name}): {exc.message}") from None
            self.stdout.write(f"strategy {sid} ({strategy.name}): stop requested")
        if missing:
            raise CommandError(f"no such strategies: {', '.join(map(str, missing))}")
