"""RiskManager: the rules that limit what the grid may do. Pure: it reads lots and the time, and decides.

Each rule and its exact boundary:

- Max positions: a new grid buy may be placed only while open lots + active grid buys < max_positions, so even
  if every resting buy fills, the lots never exceed max_positions. At open + active == max_positions: no buy.
- Price stop-loss: a lot is sold at market when the price is strictly below entry_price × (1 − stop_loss_pct%),
  i.e. down MORE than stop_loss_pct. Exactly stop_loss_pct down: the lot is kept.
- Time stop: a lot is sold at market when it has been held strictly longer than time_stop_hours
  (now − opened_at > time_stop_hours). Held exactly time_stop_hours: kept.
- Daily loss limit: new buys pause when the realized loss today is at least the limit, i.e. when
  −(Σ realized PnL of lots closed since local midnight in TIME_ZONE) >= daily_loss_limit. Gains of the day
  offset its losses. The pause ends at the next local midnight, when the sum starts again from zero.
- Loss-streak cooldown: new buys pause when each of the last max_consecutive_losses exits lost money
  (realized PnL < 0; a break-even exit is not a loss and ends the streak), for cooldown_minutes after the latest
  of them closed: paused while now < closed_at + cooldown_minutes; at exactly that time buys resume. Another
  losing exit during or after the pause starts a new pause, since the last N exits are again all losses.

A pause stops new buys only; the engine also cancels resting grid buys that have not filled, so that no new
lot opens while paused. Open lots keep their take-profits and stops.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta, tzinfo
from decimal import Decimal

from exchanges.base import ZERO
from trading.core.types import EngineConfig, ExitReason, Lot

HUNDRED = Decimal(100)


class RiskManager:
    def __init__(self, config: EngineConfig, tz: tzinfo) -> None:
        self.config = config
        self.tz = tz
        self._stop_factor = 1 - config.stop_loss_pct / HUNDRED if config.stop_loss_pct is not None else None
        self._hold = timedelta(hours=float(config.time_stop_hours)) if config.time_stop_hours is not None else None

    def buy_refused(self, open_lots: int, active_buys: int) -> str | None:
        """Why one more grid buy may not be placed, or None (see Max positions)."""
        if open_lots + active_buys >= self.config.max_positions:
            return (
                f"max positions: {open_lots} open lots + {active_buys} resting buys reach max_positions "
                f"{self.config.max_positions}"
            )
        return None

    def exit_reason(self, lot: Lot, price: Decimal, now: datetime) -> ExitReason | None:
        """STOP_LOSS or TIME_STOP when that rule says sell `lot` now (the price stop wins when both do)."""
        if self._stop_factor is not None and price < lot.entry_price * self._stop_factor:
            return ExitReason.STOP_LOSS
        if self._hold is not None and now - lot.opened_at > self._hold:
            return ExitReason.TIME_STOP
        return None

    def day_start(self, now: datetime) -> datetime:
        """Local midnight of `now`'s day in TIME_ZONE."""
        return datetime.combine(now.astimezone(self.tz).date(), time(), tzinfo=self.tz)

    def realized_today(self, closed: Sequence[Lot], now: datetime) -> Decimal:
        start = self.day_start(now)
        return sum(
            (lot.realized_pnl or ZERO for lot in closed if lot.closed_at is not None and lot.closed_at >= start), ZERO
        )

    def cooldown_until(self, closed: Sequence[Lot]) -> datetime | None:
        """End of the loss-streak pause, when the last max_consecutive_losses exits all lost; else None.

        `closed` is in closing order."""
        n = self.config.max_consecutive_losses
        if n is None or len(closed) < n:
            return None
        streak = closed[-n:]
        if all(lot.realized_pnl is not None and lot.realized_pnl < 0 for lot in streak):
            last = streak[-1].closed_at
            assert last is not None
            return last + timedelta(minutes=self.config.cooldown_minutes)
        return None

    def pause_reasons(self, closed: Sequence[Lot], now: datetime) -> list[str]:
        """Why new buys are paused now (empty: they are not). `closed` is in closing order."""
        reasons = []
        limit = self.config.daily_loss_limit
        if limit is not None:
            pnl = self.realized_today(closed, now)
            if -pnl >= limit:
                resume = self.day_start(now) + timedelta(days=1)
                reasons.append(
                    f"daily loss limit: realized {pnl:f} today reaches −{limit:f}; buys resume at {resume.isoformat()}"
                )
        until = self.cooldown_until(closed)
        if until is not None and now < until:
            reasons.append(
                f"cooldown: last {self.config.max_consecutive_losses} exits lost; buys resume at {until.isoformat()}"
            )
        return reasons
