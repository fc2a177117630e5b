"""The records the trading core passes around, and the protocols of what persists and shows them.

Plain Python, no Django: `trading.journal` maps these onto the ORM models, `trading.core.memory` keeps them in memory.
Records are frozen; a change is a new record (dataclasses.replace), so a record handed to a journal can never be
altered behind its back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from exchanges.base import ACTIVE_STATUSES, ZERO, OrderStatus, OrderType, Side
from trading.core.events import Event

PRICE_QUANTUM = Decimal("1e-18")  # the models' 18 decimal places


class Role(StrEnum):
    """What an order is for (the Order model's `role` choices are made from it)."""

    GRID_BUY = "grid_buy"
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    TIME_STOP = "time_stop"


class ExitReason(StrEnum):
    """Why a lot was closed (the Position model's `exit_reason` choices are made from it)."""

    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    TIME_STOP = "time_stop"
    MANUAL = "manual"


class EngineState(StrEnum):
    """An engine's state, as the core sets it and the `status` field of `strategy:running:{id}` carries it."""

    STOPPED = "stopped"
    RUNNING = "running"
    STOPPING = "stopping"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """A strategy's grid and risk parameters, as the engine reads them (see strategies.models.BOUNDS)."""

    strategy_id: int
    symbol: str
    grid_levels: int
    buy_offset_pct: Decimal
    sell_offset_pct: Decimal
    order_size_quote: Decimal
    reprice_threshold_pct: Decimal
    loop_interval: Decimal = Decimal(1)
    max_positions: int = 10
    stop_loss_pct: Decimal | None = None
    time_stop_hours: Decimal | None = None
    daily_loss_limit: Decimal | None = None
    max_consecutive_losses: int | None = None
    cooldown_minutes: int = 0

    def __post_init__(self) -> None:
        if self.grid_levels < 1:
            raise ValueError("grid_levels must be at least 1")
        if self.buy_offset_pct <= 0 or self.buy_offset_pct * self.grid_levels >= 100:
            raise ValueError("buy_offset_pct must be positive with buy_offset_pct × grid_levels < 100")
        if self.sell_offset_pct <= 0 or self.order_size_quote <= 0 or self.reprice_threshold_pct <= 0:
            raise ValueError("sell_offset_pct, order_size_quote and reprice_threshold_pct must be positive")

    @property
    def client_id_prefix(self) -> str:
        return f"ab{self.strategy_id}-"


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An order as the engine journals it. `parent` is the entry (grid buy) order of the lot an exit sells."""

    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    role: Role
    amount: Decimal
    price: Decimal | None
    created_at: datetime
    status: OrderStatus = OrderStatus.PENDING
    exchange_order_id: str = ""
    filled: Decimal = ZERO
    cost: Decimal = ZERO  # Σ price × amount over its fills
    fee: Decimal = ZERO
    fee_currency: str = ""
    parent: str | None = None
    error: str = ""
    trade_ids: frozenset[str] = frozenset()
    last_fill_at: datetime | None = None
    closed_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def average_price(self) -> Decimal | None:
        return (self.cost / self.filled).quantize(PRICE_QUANTUM) if self.filled else None

    @property
    def sequence(self) -> int:
        return int(self.client_order_id.rsplit("-", 1)[1])


@dataclass(frozen=True, slots=True)
class FillRecord:
    client_order_id: str
    trade_id: str
    side: Side
    price: Decimal
    amount: Decimal
    fee: Decimal
    fee_currency: str
    executed_at: datetime


@dataclass(frozen=True, slots=True)
class Lot:
    """A bought lot, from its grid buy to the exit that sold it (a position).

    entry_cost is the quote value of the quantity held (fill price × amount received) and entry_fee_quote the
    buy fee valued in quote, so that entry_cost + entry_fee_quote is what the quote balance paid, whether the
    exchange took the buy fee in quote or in base. realized PnL = exit_proceeds − exit_fee_quote − (entry_cost +
    entry_fee_quote) × sold_quantity / quantity: only what was sold is charged.

    A closed lot may hold a rest below the step that no exit could sell (`remaining` > 0, "dust"). It keeps its
    share of the cost until it moves, with that share, into a later lot (see trading.core.positions); the closed lot
    then keeps quantity = sold_quantity and the cost of that, and its realized PnL does not change.
    """

    entry_client_order_id: str
    level_price: Decimal  # the grid buy's limit price: the level this lot occupies
    quantity: Decimal  # base held
    entry_cost: Decimal
    entry_fee_quote: Decimal
    opened_at: datetime
    exit_client_order_id: str | None = None
    sold_quantity: Decimal = ZERO
    exit_proceeds: Decimal = ZERO
    exit_fee_quote: Decimal = ZERO
    closed_at: datetime | None = None
    realized_pnl: Decimal | None = None
    exit_reason: str = ""

    @property
    def entry_price(self) -> Decimal:
        return (self.entry_cost / self.quantity).quantize(PRICE_QUANTUM) if self.quantity else self.level_price

    @property
    def exit_price(self) -> Decimal | None:
        return (self.exit_proceeds / self.sold_quantity).quantize(PRICE_QUANTUM) if self.sold_quantity else None

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.sold_quantity

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True, slots=True)
class JournalSnapshot:
    """What an engine needs to resume: its active orders, open lots, recent closed lots (for the risk rules),
    the highest client order sequence it has used, its ladder's anchor price, and the closed lots that still
    hold dust (an unsold rest), whenever they closed."""

    orders: list[OrderRecord]
    lots: list[Lot]
    closed_lots: list[Lot]
    last_sequence: int
    anchor: Decimal | None
    dust: list[Lot] = field(default_factory=list)


class Journal(Protocol):
    def load(self, *, closed_since: datetime, last_closed: int) -> JournalSnapshot:
        """Active orders, open lots, the lots closed since `closed_since` or among the `last_closed` latest, and
        every closed lot with dust (quantity > sold_quantity)."""
        ...

    def save(
        self,
        *,
        orders: Sequence[OrderRecord] = (),
        fills: Sequence[FillRecord] = (),
        lots: Sequence[Lot] = (),
        anchor: Decimal | None = None,
        events: Sequence[Event] = (),
    ) -> None:
        """Write all of it, or none of it. Orders and lots are upserted by client id / entry client id; a fill
        already recorded (same order and trade id) is skipped, so booking twice is harmless. A given anchor
        replaces the stored one. The events describe these changes (or earlier ones of the tick): they commit with
        them, repeats merged by key (trading.core.events)."""
        ...

    def find_order(self, client_order_id: str) -> OrderRecord | None: ...


@dataclass(frozen=True, slots=True)
class EngineStatus:
    """One tick's snapshot for the StatusBoard (the runtime writes it to the Redis hash strategy:running:{id})."""

    strategy_id: int
    symbol: str
    state: EngineState
    updated_at: datetime
    current_price: Decimal | None = None
    pending_buys: int = 0
    pending_sells: int = 0
    position_count: int = 0
    anchor_price: Decimal | None = None
    realized_pnl_today: Decimal = ZERO
    last_error: str = ""
    skipped_levels: tuple[str, ...] = ()  # levels not placed, each with its reason
    paused: tuple[str, ...] = ()  # why new buys are paused: daily loss, cooldown, max positions, funds
    notes: tuple[str, ...] = field(default=())  # other things a user should see (unsellable lot, balance gap)

    def redis_fields(self) -> dict[str, str]:
        """The fields of strategy:running:{id} this snapshot owns (the runtime adds task_id, worker, started_at).
        The reasons (skipped levels, pauses, notes) are JSON lists of strings."""
        return {
            "status": self.state.value,
            "current_price": "" if self.current_price is None else format(self.current_price, "f"),
            "pending_buys": str(self.pending_buys),
            "pending_sells": str(self.pending_sells),
            "position_count": str(self.position_count),
            "last_error": self.last_error,
            "skipped_levels": json.dumps(self.skipped_levels, ensure_ascii=False),
            "paused": json.dumps(self.paused, ensure_ascii=False),
            "notes": json.dumps(self.notes, ensure_ascii=False),
            "updated_at": self.updated_at.isoformat(),
        }


class StatusBoard(Protocol):
    def publish(self, status: EngineStatus) -> None: ...
