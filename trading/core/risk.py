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

The two pause rules read the closed lots through an ExitHistory, which takes each lot once, as it closes (and the
journal's once, on start): the rules are asked every tick, and rescanning a day's exits each time made them the
larger part of a tick.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from exchanges.base import ZERO
from trading.core.types import EngineConfig, ExitReason, Lot

HUNDRED = Decimal(100)


class ExitHistory:
    """What the pause rules need from the closed lots, kept as each lot closes: the realized PnL per local day
    (in `tz`, TIME_ZONE) and the run of losing exits at the end, in closing order.

    The engine builds it from the journal on start (the lots closed since local midnight and the last few, in
    closing order) and adds every lot that closes after that, so a restart continues with the same figures.
    """

    def __init__(self, tz: tzinfo, lots: Iterable[Lot] = ()) -> None:
        self.tz = tz
        self._realized: dict[date, Decimal] = {}  # local day → Σ realized PnL of the lots closed on it
        self.losing_run = 0  # exits in a row, up to the latest, that lost money
        self.last_closed_at: datetime | None = None
        for lot in lots:
            self.add(lot)

    def add(self, lot: Lot) -> None:
        if lot.closed_at is None:
            raise ValueError(f"lot {lot.entry_client_order_id} is not closed")
        pnl = lot.realized_pnl or ZERO
        day = lot.closed_at.astimezone(self.tz).date()
        self._realized[day] = self._realized.get(day, ZERO) + pnl
        self.losing_run = self.losing_run + 1 if lot.realized_pnl is not None and pnl < 0 else 0
        self.last_closed_at = lot.closed_at

    def realized_since_midnight(self, now: datetime) -> Decimal:
        """Σ realized PnL of the lots closed since local midnight of `now` (or later: an exchange's fill time may
        run ahead of our clock)."""
        today = now.astimezone(self.tz).date()
        # Earlier days are never asked for again; one is kept in case the clock steps back over midnight.
        for day in [d for d in self._realized if d < today - timedelta(days=1)]:
            del self._realized[day]
        return sum((pnl for day, pnl in self._realized.items() if day >= today), ZERO)


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
        stop = self.stop_price(lot)
        if stop is not None and price < stop:
            return ExitReason.STOP_LOSS
        due = self.time_stop_at(lot)
        if due is not None and now > due:
            return ExitReason.TIME_STOP
        return None

    def stop_price(self, lot: Lot) -> Decimal | None:
        """The price stop of `lot`: it is sold when the price is strictly below this; None without a price stop."""
        return lot.entry_price * self._stop_factor if self._stop_factor is not None else None

    def time_stop_at(self, lot: Lot) -> datetime | None:
        """When `lot`'s time stop is up: it is sold at any time strictly after this; None without a time stop."""
        return lot.opened_at + self._hold if self._hold is not None else None

    def day_start(self, now: datetime) -> datetime:
        """Local midnight of `now`'s day in TIME_ZONE."""
        return datetime.combine(now.astimezone(self.tz).date(), time(), tzinfo=self.tz)

    def realized_today(self, exits: ExitHistory, now: datetime) -> Decimal:
        return exits.realized_since_midnight(now)

    def cooldown_until(self, exits: ExitHistory) -> datetime | None:
        """End of the loss-streak pause, when the last max_consecutive_losses exits all lost; else None."""
        n = self.config.max_consecutive_losses
        if n is None or exits.losing_run < n or exits.last_closed_at is None:
            return None
        return exits.last_closed_at + timedelta(minutes=self.config.cooldown_minutes)

    def pause_reasons(self, exits: ExitHistory, now: datetime) -> list[str]:
        """Why new buys are paused now (empty: they are not)."""
        reasons = []
        limit = self.config.daily_loss_limit
        if limit is not None:
            pnl = self.realized_today(exits, now)
            if -pnl >= limit:
                resume = self.day_start(now) + timedelta(days=1)
                reasons.append(
                    f"daily loss limit: realized {pnl:f} today reaches −{limit:f}; buys resume at {resume.isoformat()}"
                )
        until = self.cooldown_until(exits)
        if until is not None and now < until:
            reasons.append(
                f"cooldown: last {self.config.max_consecutive_losses} exits lost; buys resume at {until.isoformat()}"
            )
        return reasons
