from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from aresbot.errors import ServiceUnavailable
from strategies.choices import DesiredState, StoppedBy
from trading.core.gate import open_orders_problem

SYMBOL_RE = re.compile(r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}$")


@dataclass(frozen=True)
class Bound:
    """An inclusive range for one strategy parameter; None on a field means the rule is switched off."""

    low: Decimal
    high: Decimal
    unit: str = ""
    optional: bool = False

    def message(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        off = " (or empty to switch it off)" if self.optional else ""
        return f"Must be between {self.low:f} and {self.high:f}{unit}{off}."


# Every range rule of a strategy, in one place: admin, API and commands all reach it through clean().
BOUNDS: dict[str, Bound] = {
    "grid_levels": Bound(Decimal(1), Decimal(100), "levels"),
    "buy_offset_pct": Bound(Decimal("0.01"), Decimal(50), "%"),
    "sell_offset_pct": Bound(Decimal("0.01"), Decimal(100), "%"),
    "order_size_quote": Bound(Decimal("0.00000001"), Decimal(1_000_000_000), "in quote currency"),
    "reprice_threshold_pct": Bound(Decimal("0.01"), Decimal(100), "%"),
    "loop_interval": Bound(Decimal("0.5"), Decimal(3600), "seconds"),
    "max_positions": Bound(Decimal(1), Decimal(1000), "positions"),
    "stop_loss_pct": Bound(Decimal("0.01"), Decimal("99.99"), "%", optional=True),
    "time_stop_hours": Bound(Decimal("0.01"), Decimal(8760), "hours", optional=True),
    "daily_loss_limit": Bound(Decimal("0.00000001"), Decimal(1_000_000_000), "in quote currency", optional=True),
    "max_consecutive_losses": Bound(Decimal(1), Decimal(100), "losses", optional=True),
    "cooldown_minutes": Bound(Decimal(0), Decimal(10080), "minutes"),
}


def _numbers(*values: object) -> bool:
    return all(isinstance(v, (int, Decimal)) and not isinstance(v, bool) for v in values)


class Strategy(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="strategies")
    # PROTECT: an account's strategies own its order history, so the account cannot vanish under them.
    account = models.ForeignKey("accounts.ExchangeAccount", on_delete=models.PROTECT, related_name="strategies")
    name = models.CharField(max_length=100)
    symbol = models.CharField(max_length=41, help_text="Unified market symbol, BASE/QUOTE, e.g. BTC/USDT.")

    # grid
    grid_levels = models.PositiveIntegerField(default=5, help_text="Number of resting buy orders below the price.")
    buy_offset_pct = models.DecimalField(
        max_digits=8, decimal_places=4, default=Decimal("1"), help_text="Gap between buy levels, % of price."
    )
    sell_offset_pct = models.DecimalField(
        max_digits=8, decimal_places=4, default=Decimal("1"), help_text="Take-profit above each buy, %."
    )
    order_size_quote = models.DecimalField(
        max_digits=30, decimal_places=8, default=Decimal("20"), help_text="Size of each buy, in quote currency."
    )
    reprice_threshold_pct = models.DecimalField(
        max_digits=8, decimal_places=4, default=Decimal("1"), help_text="Trail the ladder up after this rise, %."
    )
    loop_interval = models.DecimalField(
        max_digits=8, decimal_places=3, default=Decimal("1"), help_text="Seconds between engine ticks."
    )

    # risk
    max_positions = models.PositiveIntegerField(default=10, help_text="Open lots held at most.")
    stop_loss_pct = models.DecimalField(
        max_digits=8, decimal_places=4, null=True, blank=True, help_text="Sell a lot down more than this %."
    )
    time_stop_hours = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, help_text="Sell a lot held longer than this."
    )
    daily_loss_limit = models.DecimalField(
        max_digits=30, decimal_places=8, null=True, blank=True, help_text="Pause buys after this realized loss today."
    )
    max_consecutive_losses = models.PositiveIntegerField(
        null=True, blank=True, help_text="Losing exits in a row that start a cooldown."
    )
    cooldown_minutes = models.PositiveIntegerField(default=0, help_text="Pause after the loss streak, minutes.")

    desired_state = models.CharField(max_length=10, choices=DesiredState.choices, default=DesiredState.STOPPED)
    cancel_all_on_stop = models.BooleanField(
        default=False,
        help_text="The last stop also cancels the take-profits (stop with cancel_all). Kept beside desired_state "
        "so that an engine that misses the Redis stop signal still stops as it was asked to.",
    )
    stopped_by = models.CharField(
        max_length=10,
        choices=StoppedBy.choices,
        blank=True,
        default="",
        help_text="Who made the last stop (the stopped event says it); empty while running or never stopped.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "strategies"
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="strategy_name_unique_per_owner")]
        indexes = [models.Index(fields=["desired_state"], name="strategy_desired_state_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.symbol})"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        self.name = (self.name or "").strip()
        if not self.name:
            errors["name"] = "Name is required (1 to 100 characters)."
        self.symbol = (self.symbol or "").strip().upper()
        if not SYMBOL_RE.match(self.symbol):
            errors["symbol"] = "Must be a market symbol BASE/QUOTE of letters and digits, e.g. BTC/USDT."
        for field, bound in BOUNDS.items():
            value = getattr(self, field)
            if value is None:
                if not bound.optional:
                    errors[field] = "This field is required. " + bound.message()
                continue
            if not _numbers(value):
                continue  # a type error, already reported by the field itself
            if not bound.low <= value <= bound.high:
                errors[field] = bound.message()
        levels, offset = self.grid_levels, self.buy_offset_pct
        # The deepest level sits at price × (1 − offset% × levels); at 100 % it would be a buy at zero.
        if (
            not errors.keys() & {"grid_levels", "buy_offset_pct"}
            and _numbers(levels, offset)
            and offset * levels >= 100
        ):
            limit = (Decimal(100) / levels).quantize(Decimal("0.0001"))
            errors["buy_offset_pct"] = (
                f"With {levels} grid levels, must be below {limit:f} % so that the deepest buy "
                "stays above zero (buy_offset_pct × grid_levels < 100)."
            )
        if self.max_consecutive_losses is not None and not self.cooldown_minutes and "cooldown_minutes" not in errors:
            errors["cooldown_minutes"] = "Must be at least 1 minute when max_consecutive_losses is set."
        if self.account_id is not None and self.owner_id is not None and self.account.owner_id != self.owner_id:
            errors["account"] = "Choose one of your own exchange accounts."
        if self.owner_id is not None and "name" not in errors:
            same_name = Strategy.objects.filter(owner_id=self.owner_id, name__iexact=self.name).exclude(pk=self.pk)
            if same_name.exists():
                errors["name"] = f"You already have a strategy named {self.name!r}."
        before = self._stored()
        if before is not None:
            errors.update(self._clean_running_change(before))
        if not errors.keys() & {"symbol", "account"} and self.account_id is not None:
            moved = before is None or (before["symbol"], before["account_id"]) != (self.symbol, self.account_id)
            # Only a new market is checked: an edit of the grid or the risk rules must work while the exchange is
            # down, and a market delisted since is the engine's to report.
            if moved:
                try:
                    refusal = self.account.markets().refusal(self.symbol)
                except ServiceUnavailable:
                    if errors:
                        raise ValidationError(errors) from None  # what is wrong already, rather than "try later"
                    raise
                if refusal:
                    errors["symbol"] = refusal
        errors.update(self._clean_open_orders(before, errors))
        if errors:
            raise ValidationError(errors)

    def _clean_open_orders(self, before: dict[str, Any] | None, errors: dict[str, str]) -> dict[str, str]:
        """max_positions may not let the strategy hold more open orders than its market allows. Checked when the
        market or max_positions changes, against the account's markets as far as they are known without asking
        the exchange (the symbol check above has just loaded them when the market changed); when they are not,
        the engine says so in its status instead."""
        if errors.keys() & {"symbol", "account", "max_positions", "grid_levels"} or self.account_id is None:
            return {}
        fields = ("symbol", "account_id", "max_positions")
        if before is not None and all(before[f] == getattr(self, f) for f in fields):
            return {}
        markets = self.account.known_markets()
        if markets is None:
            return {}
        cap = markets.open_order_cap(self.symbol)
        problem = open_orders_problem(self.max_positions, self.grid_levels, cap, self.symbol)
        return {"max_positions": problem} if problem else {}

    def _stored(self) -> dict[str, Any] | None:
        if self.pk is None:
            return None
        row = (
            Strategy.objects.filter(pk=self.pk).values("symbol", "account_id", "desired_state", "max_positions").first()
        )
        return None if row is None else dict(row)

    def _clean_running_change(self, before: dict[str, Any]) -> dict[str, str]:
        """A running engine trades one market on one account; moving it under the engine would strand orders."""
        if before["desired_state"] != DesiredState.RUNNING:
            return {}
        errors = {}
        if before["symbol"] != self.symbol:
            errors["symbol"] = "Stop the strategy before changing its symbol."
        if before["account_id"] != self.account_id:
            errors["account"] = "Stop the strategy before changing its account."
        return errors
