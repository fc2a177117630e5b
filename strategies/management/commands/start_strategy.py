from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from aresbot.errors import DomainError
from strategies.models import Strategy
from strategies.services import start_strategy


class Command(BaseCommand):
    help = "Start strategies on the workers (the same as POST /api/strategies/{id}/start)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("strategy_ids", type=int, nargs="+")

    def handle(self, *args: Any, strategy_ids: list[int], **options: Any) -> None:
        failed = False
        for sid in strategy_ids:
            strategy = Strategy.objects.select_related("account").filter(pk=sid).first()
            if strategy is None:
                self.stderr.write(f"strategy {sid}: no such strategy")
                failed = True
                continue
            try:
                # No transaction around it: start_strategy asks Redis first and commits its own change.
                start_strategy(strategy)
            except DomainError as exc:
                self.stderr.write(f"strategy {sid} ({strategy.name}): {exc.message}")
                failed = True
                continue
            self.stdout.write(f"strategy {sid} ({strategy.name}): started")
        if failed:
            raise CommandError("some strategies were not started")
