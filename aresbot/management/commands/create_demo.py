"""manage.py create_demo: a paper account and a grid strategy on a replayed real day of BTC/USDT, started.

Idempotent: it does nothing when the demo strategy exists. The demo account's price source is a replay of a data
set shipped with AresBot, 30 times faster than real time (a day of 1-minute candles in 48 minutes) so that a new
user sees orders fill within a minute; it starts when the first engine trades it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import ExchangeAccount
from aresbot.errors import DomainError
from exchanges.paper.sources import PriceSourceKind
from strategies.models import Strategy
from strategies.services import start_strategy

DEMO_ACCOUNT = "Demo paper account"
DEMO_STRATEGY = "Demo BTC/USDT grid (replay of 2022-05-05)"
DEMO_DATASET = "BTCUSDT-1m-2022-05-05"


class Command(BaseCommand):
    help = "Create and start a paper-trading demo strategy on a replayed real price path."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", help="Owner (default: the first superuser).")
        parser.add_argument("--speed", type=float, default=30.0, help="Replay speed (data seconds per second).")
        parser.add_argument("--no-start", action="store_true", help="Create it stopped.")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        users = (
            User.objects.filter(username=options["username"])
            if options["username"]
            else User.objects.filter(is_superuser=True)
        )
        owner = users.order_by("pk").first()
        if owner is None:
            raise CommandError("No owner for the demo: create a superuser first (manage.py ensure_admin).")
        if Strategy.objects.filter(owner=owner, name=DEMO_STRATEGY).exists():
            self.stdout.write("The demo strategy exists already.")
            return
        try:
            strategy = self._create(owner, Decimal(str(options["speed"])))
        except ValidationError as exc:
            raise CommandError(f"The demo could not be created: {'; '.join(exc.messages)}") from exc
        except DomainError as exc:
            raise CommandError(f"The demo could not be created: {exc.message}") from exc
        if not options["no_start"]:
            try:
                start_strategy(strategy)
            except DomainError as exc:
                raise CommandError(f"The demo strategy was created but not started: {exc.message}") from exc
        self.stdout.write(
            self.style.SUCCESS(f"Demo strategy #{strategy.pk} created{'' if options['no_start'] else ' and started'}.")
        )

    def _create(self, owner: Any, speed: Decimal) -> Strategy:
        """The demo account (a paper account replaying the data set; kept if it exists) and its strategy. No
        transaction around them: the strategy's rules load its account's markets, which is never done inside one."""
        account = ExchangeAccount.objects.filter(owner=owner, name=DEMO_ACCOUNT).first()
        if account is None:
            account = ExchangeAccount(
                owner=owner,
                name=DEMO_ACCOUNT,
                exchange="paper",
                paper_balances={"USDT": "10000"},
                price_source=PriceSourceKind.REPLAY,
                replay_dataset=DEMO_DATASET,
                replay_speed=speed,
            )
            account.full_clean()
            account.save()
        strategy = Strategy(
            owner=owner,
            account=account,
            name=DEMO_STRATEGY,
            symbol="BTC/USDT",
            grid_levels=5,
            buy_offset_pct=Decimal("0.25"),
            sell_offset_pct=Decimal("0.3"),
            order_size_quote=Decimal("100"),
            reprice_threshold_pct=Decimal("0.5"),
            loop_interval=Decimal("1"),
            max_positions=10,
            stop_loss_pct=Decimal("3"),
        )
        strategy.full_clean()
        strategy.save()
        return strategy
