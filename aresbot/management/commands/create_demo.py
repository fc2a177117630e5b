"""manage.py create_demo: a paper account and a grid strategy on a replayed real day of BTC/USDT, started.

Idempotent: it does nothing when the demo strategy exists. The replay runs 30 times faster than real time
(a day of 1-minute candles in 48 minutes) so that a new user sees orders fill within a minute.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import ExchangeAccount
from aresbot.errors import DomainError
from exchanges.paper.store import DbPaperStore, book_key
from strategies.models import Strategy
from strategies.services import start_strategy

DEMO_ACCOUNT = "Demo paper account"
DEMO_STRATEGY = "Demo BTC/USDT grid (replay of 2022-05-05)"
REPLAY = "replay/BTCUSDT-1m-2022-05-05.csv"


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
        with transaction.atomic():
            account, _ = ExchangeAccount.objects.get_or_create(
                owner=owner, name=DEMO_ACCOUNT, defaults={"exchange": "paper", "paper_balances": {"USDT": "10000"}}
            )
            # The book remembers its feed: every worker that runs the demo replays the same path at the same time.
            DbPaperStore(book_key(account.pk), account.paper_balances).ensure_feed_spec(
                "BTC/USDT",
                {"kind": "replay", "path": REPLAY, "start": datetime.now(UTC).isoformat(), "speed": options["speed"]},
            )
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
        if not options["no_start"]:
            try:
                start_strategy(strategy)
            except DomainError as exc:
                raise CommandError(f"The demo strategy was created but not started: {exc.message}") from exc
        self.stdout.write(
            self.style.SUCCESS(f"Demo strategy #{strategy.pk} created{'' if options['no_start'] else ' and started'}.")
        )
