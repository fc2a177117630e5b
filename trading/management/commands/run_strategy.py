"""manage.py run_strategy ID [--ticks N]: run one strategy's engine in the foreground, for debugging.

It takes the strategy's lease like a worker does, so it refuses to run a strategy a worker runs, and a worker
cannot pick the strategy up while it runs here.

Orders, fills and positions go to the database as the engine trades. SIGINT/SIGTERM stop it cleanly: its resting
buys are canceled and lots keep their take-profits. With --fast the clock is simulated and jumps one
loop_interval per tick instead of sleeping, for replays and quick checks.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from aresbot.redis import get_redis
from exchanges.clock import Clock, ManualClock, SystemClock
from exchanges.markets import market_rules
from trading.core.types import EngineStatus
from trading.runtime.build import build_engine
from trading.runtime.coordination import Lease
from trading.runtime.runner import FencedExchange
from trading.runtime.spec import StrategySpec, strategy_source


class PrintingStatusBoard:
    def __init__(self, command: BaseCommand, quiet: bool) -> None:
        self.command = command
        self.quiet = quiet

    def publish(self, status: EngineStatus) -> None:
        if self.quiet:
            return
        line = (
            f"{status.updated_at:%H:%M:%S} {status.state} price={status.current_price} buys={status.pending_buys} "
            f"sells={status.pending_sells} lots={status.position_count} pnl_today={status.realized_pnl_today}"
        )
        for extra in (*status.paused, *status.notes, *status.skipped_levels):
            line += f"\n    {extra}"
        if status.last_error:
            line += f"\n    last error: {status.last_error}"
        self.command.stdout.write(line)


class Command(BaseCommand):
    help = "Run one strategy's grid engine in the foreground against its account's exchange."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("strategy_id", type=int)
        parser.add_argument("--ticks", type=int, default=0, help="Stop after N ticks (default: run until stopped).")
        parser.add_argument(
            "--feed",
            choices=["ticker", "random", "replay"],
            help="Price feed of a paper book that has none yet, instead of the account's price source (a book "
            "keeps the first one it is given).",
        )
        parser.add_argument(
            "--replay-file", type=Path, help="Candle file for --feed replay (kline CSV, OHLCV CSV, JSON)."
        )
        parser.add_argument("--speed", type=float, default=1.0, help="Replay speed: data seconds per wall second.")
        parser.add_argument("--seed", type=int, default=0, help="Seed of --feed random.")
        parser.add_argument("--start-price", type=Decimal, help="Start price of --feed random.")
        parser.add_argument(
            "--fast", action="store_true", help="Simulated clock: jump loop_interval per tick, no sleep."
        )
        parser.add_argument("--quiet", action="store_true", help="No status line per tick.")

    def handle(self, *args: Any, **options: Any) -> None:
        strategy = strategy_source().load(options["strategy_id"])
        if strategy is None:
            raise CommandError(f"No strategy with id {options['strategy_id']}.")
        if not strategy.account.is_paper and (options["fast"] or options["feed"] is not None):
            raise CommandError("--fast and --feed only apply to paper accounts: a real exchange trades in real time.")
        lease = Lease(get_redis(), strategy.strategy_id, f"cli-{uuid.uuid4().hex[:12]}", settings.STRATEGY_LOCK_TTL)
        if not lease.acquire():
            raise CommandError(f"Strategy {strategy.name!r} is held by {lease.holder_now()}: stop it first.")

        def fence() -> None:
            if not lease.renew():
                raise CommandError("The strategy's lease was lost (taken or expired): stopping without sending.")

        try:
            self._run(strategy, options, fence)
        finally:
            lease.release()

    def _run(self, strategy: StrategySpec, options: dict[str, Any], fence: Callable[[], None]) -> None:
        clock: Clock = ManualClock(datetime.now(UTC)) if options["fast"] else SystemClock()
        spec = self._feed_spec(strategy, options, clock.now())
        engine = build_engine(
            strategy,
            status_board=PrintingStatusBoard(self, options["quiet"]),
            clock=clock,
            feed_spec=spec,
            wrap_exchange=lambda inner: FencedExchange(inner, fence),
        )
        stop = {"asked": False}

        def ask_stop(signum: int, frame: FrameType | None) -> None:
            stop["asked"] = True

        previous = {s: signal.signal(s, ask_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        interval = float(strategy.config.loop_interval)
        try:
            engine.start()
            ticks = 1
            while not stop["asked"] and (not options["ticks"] or ticks < options["ticks"]):
                if isinstance(clock, ManualClock):
                    clock.advance(interval)
                else:
                    time.sleep(interval)
                fence()  # also between sends: a long loop_interval must not let the lease lapse
                engine.tick()
                ticks += 1
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            status = engine.stop()
        lots, resting = status.position_count, status.pending_sells
        self.stdout.write(f"stopped after {ticks} ticks: {lots} open lots, {resting} take-profits resting")

    def _feed_spec(self, strategy: StrategySpec, options: dict[str, Any], now: datetime) -> dict[str, Any] | None:
        """The feed asked for on the command line; None: the account's price source decides."""
        if options["feed"] is None:
            return None
        if options["feed"] == "replay":
            path = options["replay_file"]
            if path is None or not path.exists():
                raise CommandError("--feed replay needs an existing --replay-file.")
            return {"kind": "replay", "path": str(path.resolve()), "start": now.isoformat(), "speed": options["speed"]}
        if options["feed"] == "random":
            if options["start_price"] is None:
                raise CommandError("--feed random needs --start-price.")
            try:
                tick = market_rules(strategy.symbol).tick_size
            except KeyError as exc:
                raise CommandError(str(exc)) from None
            return {
                "kind": "random_walk",
                "start_price": format(options["start_price"], "f"),
                "start": now.isoformat(),
                "tick": format(tick, "f"),
                "seed": options["seed"],
            }
        exchange = prices.exchange if (prices := strategy.account.prices) and prices.exchange else "binance"
        return {"kind": "ticker", "exchange": exchange, "symbol": strategy.symbol}
