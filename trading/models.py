"""The trade record: every order the engine wrote, every execution, and every lot it held."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from exchanges.base import OrderStatus, OrderType, Side

# The backtest models live with their code (trading/backtests/); importing them here registers them with the app.
from trading.backtests.models import Backtest, BacktestChunk, BacktestDataset, DatasetChunk  # noqa: F401
from trading.choices import choices_of
from trading.core.events import EventKind, Severity
from trading.core.types import ExitReason, Role
from trading.sweeps.models import Sweep, SweepResult  # noqa: F401

# 40 digits with 18 after the point: covers 1e-18 dust and 1e21 notional, exact in MySQL DECIMAL.
MONEY_DIGITS, MONEY_PLACES = 40, 18


class Order(models.Model):
    """An order as the engine journaled it. `filled`, `cost`, `average_price` and `fee` are its totals over its
    fills, written by the journal in the same transaction as the fills; they are trusted as stored (the engine
    resumes from them), never recomputed from the fills."""

    strategy = models.ForeignKey("strategies.Strategy", on_delete=models.CASCADE, related_name="orders")
    client_order_id = models.CharField(max_length=36, unique=True)
    exchange_order_id = models.CharField(max_length=100, blank=True, default="")
    symbol = models.CharField(max_length=41)
    side = models.CharField(max_length=4, choices=choices_of(Side))
    type = models.CharField(max_length=6, choices=choices_of(OrderType), default=OrderType.LIMIT.value)
    role = models.CharField(max_length=12, choices=choices_of(Role))
    price = models.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        null=True,
        blank=True,
        help_text="Limit price; empty for market orders.",
    )
    amount = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    filled = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=0)
    cost = models.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        default=0,
        help_text="Quote value of its fills (Σ price × amount); the average price is this over filled, rounded.",
    )
    average_price = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, null=True, blank=True)
    fee = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=0)
    fee_currency = models.CharField(max_length=20, blank=True, default="")
    status = models.CharField(max_length=16, choices=choices_of(OrderStatus), default=OrderStatus.PENDING.value)
    error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # An exit (take-profit or stop) points at the grid buy whose lot it sells, so a restarted engine knows
    # which lot each resting sell belongs to.
    parent = models.ForeignKey(
        "self", on_delete=models.RESTRICT, null=True, blank=True, related_name="exit_orders", editable=False
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # the engine's "my open orders" on start and reconcile
            models.Index(fields=["strategy", "status"], name="order_strategy_status_idx"),
            models.Index(fields=["exchange_order_id"], name="order_exchange_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.client_order_id} {self.side} {self.amount} {self.symbol} @ {self.price}"


class Fill(models.Model):
    """One execution against an order. Immutable once written."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="fills")
    # Copied from the order so that the trades list filters and sorts on one indexed table.
    strategy = models.ForeignKey("strategies.Strategy", on_delete=models.CASCADE, related_name="fills")
    side = models.CharField(max_length=4, choices=choices_of(Side))
    # NULL when the exchange gives no execution id; unique per order otherwise (NULLs never collide).
    trade_id = models.CharField(  # noqa: DJ001
        max_length=100, null=True, blank=True, help_text="The exchange's execution id."
    )
    price = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    amount = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    fee = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=0)
    fee_currency = models.CharField(max_length=20, blank=True, default="")
    executed_at = models.DateTimeField()

    class Meta:
        ordering = ["-executed_at", "-id"]
        indexes = [
            # The trades list of a strategy and its time range (the first two columns), and the statistics read
            # from the index alone: a count, volume and fees over 100,000 fills need not visit the table.
            models.Index(
                fields=["strategy", "executed_at", "side", "fee_currency", "price", "amount", "fee"],
                name="fill_strategy_time_cover_idx",
            ),
            models.Index(fields=["executed_at"], name="fill_time_idx"),
        ]
        constraints = [
            # A fill seen twice (a reconcile after a crash) must not be booked twice.
            models.UniqueConstraint(fields=["order", "trade_id"], name="fill_trade_id_unique_per_order")
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.amount} @ {self.price}"

    @property
    def quote_amount(self) -> Decimal:
        return self.price * self.amount


class Position(models.Model):
    """A bought lot, from its grid buy to the order that sold it."""

    strategy = models.ForeignKey("strategies.Strategy", on_delete=models.CASCADE, related_name="positions")
    # RESTRICT, not PROTECT: an order cannot vanish under its lot, yet deleting the strategy removes both together.
    entry_order = models.OneToOneField(Order, on_delete=models.RESTRICT, related_name="opened_position")
    quantity = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    entry_price = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    entry_fee_quote = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=0, help_text="Buy fee valued in quote currency."
    )
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    exit_order = models.OneToOneField(
        Order, on_delete=models.RESTRICT, null=True, blank=True, related_name="closed_position"
    )
    exit_price = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, null=True, blank=True)
    exit_fee_quote = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=0)
    realized_pnl = models.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        null=True,
        blank=True,
        help_text="Net of both fees, in quote.",
    )
    exit_reason = models.CharField(max_length=12, choices=choices_of(ExitReason), blank=True, default="")
    # Exact sums the engine resumes from: entry_price and exit_price are averages, rounded for display.
    entry_cost = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=0, help_text="Quote paid for the quantity held."
    )
    sold_quantity = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=0)
    exit_proceeds = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=0, help_text="Quote received for what was sold."
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            # A strategy's open lots (closed_at NULL) and those closed in a time range, with their PnL: the PnL per
            # day is read from the index alone.
            models.Index(fields=["strategy", "closed_at", "realized_pnl"], name="position_strategy_pnl_idx"),
            models.Index(fields=["closed_at"], name="position_closed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} @ {self.entry_price}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class EngineState(models.Model):
    """What a strategy's engine keeps between runs besides its orders and lots: the anchor of its buy ladder."""

    strategy = models.OneToOneField("strategies.Strategy", on_delete=models.CASCADE, related_name="engine_state")
    anchor_price = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"engine state of strategy {self.strategy_id}"


class FillTally(models.Model):
    """The fills of one strategy, UTC day, side and fee currency, added up ahead of time (trading/tally.py), so that
    statistics over a long record read a row per day instead of every fill. Fills never change once written, so a
    day's tally only grows; a strategy's go with it."""

    strategy = models.ForeignKey("strategies.Strategy", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    side = models.CharField(max_length=4, choices=choices_of(Side))
    fee_currency = models.CharField(max_length=20, blank=True, default="")
    fills = models.PositiveIntegerField()
    # Σ price × amount, exact: a product has twice the places of its factors.
    notional = models.DecimalField(max_digits=65, decimal_places=2 * MONEY_PLACES)
    fee = models.DecimalField(max_digits=MONEY_DIGITS + 10, decimal_places=MONEY_PLACES)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["strategy", "day", "side", "fee_currency"], name="fill_tally_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.side} {self.fills} fills"


class TallyMark(models.Model):
    """How far the tallies go: every fill with an id up to `sealed_id` is in them. `seen_id` is the newest id the
    previous pass saw; the next pass seals up to it, by when any transaction that took a smaller id has committed
    (ids are handed out before commit, so the newest id seen is not yet proof that the ones below it are there)."""

    sealed_id = models.BigIntegerField(default=0)
    seen_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"sealed up to fill {self.sealed_id}"


class StrategyEvent(models.Model):
    """One thing a strategy's engine or runtime did, and why (trading/events.py). Written with the state change it
    describes; a repeat (same `dedupe_key`, recent) grows `count` and `at` instead of adding a row. The id is
    monotonic: the notifier reads the events above its watermark."""

    id = models.BigAutoField(primary_key=True)
    strategy = models.ForeignKey("strategies.Strategy", on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=choices_of(EventKind))
    severity = models.CharField(max_length=8, choices=choices_of(Severity), default=Severity.INFO.value)
    at = models.DateTimeField(help_text="When it happened (its latest repeat).")
    first_at = models.DateTimeField(help_text="When it first happened.")
    count = models.PositiveIntegerField(default=1)
    dedupe_key = models.CharField(max_length=200, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # a strategy's timeline, newest first, by kind; and the repeat rule's look-up of the newest by key
            models.Index(fields=["strategy", "kind", "id"], name="event_strategy_kind_idx"),
            models.Index(fields=["strategy", "dedupe_key", "id"], name="event_strategy_key_idx"),
            models.Index(fields=["at"], name="event_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ×{self.count} at {self.at:%Y-%m-%d %H:%M:%S}"


class EventReadMark(models.Model):
    """How far a user has read their events feed: every event with an id up to `last_read_id` is read."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="event_read_mark")
    last_read_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"read up to event {self.last_read_id}"
