"""TradingEngine: one strategy's loop, against an Exchange, a Journal and a StatusBoard. No Django.

The engine owns an OrderBook (its active orders, trading.core.book), a PositionTracker (its lots) and a Reconciler
(trading.core.reconcile) that applies whatever the exchange answers about its orders. Each `tick()` runs, in order:
1. reconcile, when the last tick ended in an error (and on start): see below;
2. fetch the price;
3. sync orders: book new fills; a finished buy opens a lot, a completely filled exit closes one;
4. exits: sell at market the lots the price stop or time stop says to sell (cancelling their take-profit first),
   and give every other lot without an exit its take-profit at entry × (1 + sell_offset%) (lowered to the
   market's max price only when that still covers the fees: GridStrategy.take_profit);
5. reprice: when the price is past the threshold above the ladder's anchor, cancel the untouched buys and
   re-anchor the ladder at the price (trailing up) — decided before the ladder is filled, so that no order is
   placed and canceled within one tick; a daily loss or loss-streak pause instead cancels the untouched buys;
6. ladder: keep up to grid_levels buys at anchor × (1 − offset% × i), below the price, within the risk limits
   (none while paused); then a take-profit for a lot that a buy canceled part-filled in step 5 opened.
   Before any order of steps 4 and 6 is drafted, the OrderGate (trading.core.gate) checks the exchange's rules of
   the moment (open-order cap, price band, position) and what the exchange refused lately (with backoff; for lack
   of funds until a balance read covers it): what waits is in the status, with the reason;
7. every `balance_check_every` ticks, compare the base balance with what the open lots and the dust hold;
8. publish the status. (Lease renewal and the stop signal belong to the runtime around the engine.)

Write-ahead: every order gets its client order id and is journaled `pending` before it is sent. A network
error or timeout while sending is never answered by sending again: the engine marks itself for reconcile,
which looks the order up by client id — found: its state is adopted (and its fills booked); unknown to the
exchange (older than the exchange's order_visibility_delay): marked `lost`. Reconcile runs on `start()` and at
the beginning of the tick after any error, so a crash or restart continues from the same book.

Status: `publish()` hands the StatusBoard an EngineStatus every tick; `last_error` keeps the latest error with
its time until another replaces it, so a one-tick network blip is still visible on the dashboard.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal

from exchanges.base import (
    ZERO,
    Balance,
    Exchange,
    ExchangeError,
    InsufficientFunds,
    OrderNotSent,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    RetryableError,
    Side,
)
from exchanges.clock import Clock
from trading.core.book import OrderBook
from trading.core.events import Event, EventKind, RepeatThrottle, event
from trading.core.gate import OrderGate, open_orders_problem
from trading.core.grid import GridStrategy
from trading.core.positions import PositionTracker
from trading.core.reconcile import Reconciler
from trading.core.risk import ExitHistory, RiskManager
from trading.core.types import (
    EngineConfig,
    EngineState,
    EngineStatus,
    ExitReason,
    Journal,
    Lot,
    OrderRecord,
    Role,
    StatusBoard,
)

log = logging.getLogger(__name__)


def pause_cause(reason: str) -> str:
    """The cause of a pause reason, as events name it: daily_loss_limit, cooldown, max_positions, insufficient_funds,
    or market_rule (an exchange's refusal or rule of the moment)."""
    head = reason.split(":", 1)[0]
    return _PAUSE_CAUSES.get(head, "market_rule")


_PAUSE_CAUSES = {
    "daily loss limit": "daily_loss_limit",
    "cooldown": "cooldown",
    "max positions": "max_positions",
    "waiting for funds": "insufficient_funds",
}


class TradingEngine:
    def __init__(
        self,
        config: EngineConfig,
        *,
        exchange: Exchange,
        journal: Journal,
        status_board: StatusBoard,
        clock: Clock,
        tz: tzinfo | None = None,
        balance_check_every: int = 60,
    ) -> None:
        self.config = config
        self.exchange = exchange
        self.journal = journal
        self.status_board = status_board
        self.clock = clock
        self.rules = exchange.market(config.symbol)
        self.grid = GridStrategy(config, self.rules)
        self.risk = RiskManager(config, tz or UTC)
        self.exits = ExitHistory(self.risk.tz)  # what the risk rules read of the closed lots
        self.anchor: Decimal | None = None
        self.price: Decimal | None = None
        self.state = EngineState.STOPPED
        self.last_error = ""
        self.ticks = 0
        self.balance_check_every = balance_check_every
        self._seq = 0
        self._skipped: tuple[str, ...] = ()
        self._paused: list[str] = []
        self._notes: list[str] = []
        self._balance_note = ""
        self._balances: dict[str, Balance] | None = None  # read at most once a tick
        # Events (trading.core.events) not yet journaled, and what the last tick's pause and skip events said: those
        # are written when they change, not every tick.
        self._events: list[Event] = []
        self._repeats = RepeatThrottle()
        self._unsaved: list[Event] = []  # through the throttle, not yet written (the database was away)
        self._pauses: dict[str, str] = {}
        self._skips: tuple[str, ...] = ()
        self.gate = OrderGate(self.rules, config.loop_interval, self._read_balances)
        self._cap_note = self._open_orders_problem()
        self._load(OrderBook(), PositionTracker(self.rules))

    def _load(self, book: OrderBook, positions: PositionTracker) -> None:
        self.book = book
        self.positions = positions
        self.reconciler = Reconciler(
            self.exchange,
            self.journal,
            book,
            positions,
            symbol=self.config.symbol,
            client_id_prefix=self.config.client_id_prefix,
            clock=self.clock,
            note=self._note,
            lot_closed=self._remember_closed,
        )

    # --- lifecycle ---------------------------------------------------------------------------------------------------
    def start(self, *, first_tick: bool = True) -> EngineStatus:
        """Load the journal and reconcile it with the exchange. Call once, before the first tick.

        `first_tick=False` only reconciles (and places nothing): for a stop that finds no engine running.
        """
        now = self.clock.now()
        snapshot = self.journal.load(
            closed_since=self.risk.day_start(now), last_closed=self.config.max_consecutive_losses or 0
        )
        self._load(OrderBook(snapshot.orders), PositionTracker(self.rules, snapshot.lots, snapshot.dust))
        self.exits = ExitHistory(self.risk.tz, sorted(snapshot.closed_lots, key=lambda lot: lot.closed_at or now))
        self.anchor = snapshot.anchor
        self._seq = snapshot.last_sequence
        self.state = EngineState.RUNNING
        if first_tick:
            return self.tick()
        self.reconciler.reconcile()
        return self.publish(now)

    def reconfigure(self, config: EngineConfig) -> None:
        """Take a strategy edited while running: the next tick decides with the new grid and risk rules."""
        if (config.strategy_id, config.symbol) != (self.config.strategy_id, self.config.symbol):
            raise ValueError("a running engine keeps its strategy and symbol")
        self.config = config
        self.grid = GridStrategy(config, self.rules)
        self.risk = RiskManager(config, self.risk.tz)
        self.gate.reconfigure(config.loop_interval)
        self._cap_note = self._open_orders_problem()

    def tick(self) -> EngineStatus:
        now = self.clock.now()
        self.ticks += 1
        self.state = EngineState.RUNNING  # also after an error: the runtime ticking again means it is retrying
        self._paused, self._notes = [], []
        self._balances = None
        try:
            if self.reconciler.needed:
                self.reconciler.reconcile()
            price = self.price = self.exchange.fetch_price(self.config.symbol)
            self.reconciler.sync()
            self._begin_gate(price, now)
            self._manage_exits(price, now)
            self._manage_ladder(price, now)
            # A buy canceled part-filled by the ladder step opened a lot: it gets its take-profit now, not a tick later.
            self._place_take_profits([lot for lot in self.positions.open.values() if not lot.exit_client_order_id])
            if self.ticks % self.balance_check_every == 1 or self.balance_check_every == 1:
                self._check_balance()
        except RetryableError as exc:
            self.reconciler.require()
            self._error(exc, now)
            self._track_pauses(now, down=f"exchange down: {type(exc).__name__}: {exc}")
        except Exception as exc:
            # A fatal exchange error, a database error, a bug: the runtime decides; the status says what happened.
            self.reconciler.require()
            self.state = EngineState.ERROR
            self._error(exc, now)
            self.publish(now)
            raise
        else:
            self._track_pauses(now)
        return self.publish(now)

    def stop(self, *, cancel_all: bool = False) -> EngineStatus:
        """Cancel the resting grid buys and publish the final status. Lots keep their take-profits, unless
        `cancel_all` asks to cancel those too (the lots stay held; the next start gives them new exits)."""
        now = self.clock.now()
        self.state = EngineState.STOPPING
        self._paused, self._notes = [], []
        self._balances = None
        try:
            if self.reconciler.needed:
                self.reconciler.reconcile()
            self._cancel_buys(untouched_only=False)
            if cancel_all:
                self._cancel_orders(self.book.with_role(Role.TAKE_PROFIT))
            elif self.price is not None:
                self._begin_gate(self.price, now)
                self._place_take_profits([lot for lot in self.positions.open.values() if not lot.exit_client_order_id])
            self.state = EngineState.STOPPED
        except Exception as exc:
            self.state = EngineState.ERROR
            self._error(exc, now)
            self.publish(now)
            raise
        return self.publish(now)

    def _note(self, note: str) -> None:
        self._notes.append(note)

    def _remember_closed(self, lot: Lot, now: datetime) -> None:
        self.exits.add(lot)
        self.gate.release(self.rules.quote)  # its proceeds came in

    def _open_orders_problem(self) -> str | None:
        config = self.config
        problem = open_orders_problem(
            config.max_positions, config.grid_levels, self.rules.max_open_orders, config.symbol
        )
        return f"{problem} Until then the orders beyond it wait." if problem else None

    def _begin_gate(self, price: Decimal, now: datetime) -> None:
        position = ZERO
        if self.rules.max_position:  # a few markets only: the others need not add up the buys every tick
            buying = sum((o.amount for o in self.book.with_role(Role.GRID_BUY)), ZERO)
            position = self.positions.held + self.positions.dust_quantity + buying
        self.gate.begin(now, price, open_orders=len(self.book) + self.reconciler.foreign_open, position=position)

    # --- step 4: exits (stops and take-profits) ----------------------------------------------------------------------
    def _manage_exits(self, price: Decimal, now: datetime) -> None:
        needs_take_profit: list[Lot] = []
        for lot in list(self.positions.open.values()):
            reason = self.risk.exit_reason(lot, price, now)
            if reason is not None:
                self._stop_out(lot, reason, price)
            elif lot.exit_client_order_id is None:
                needs_take_profit.append(lot)
        if needs_take_profit:
            self._place_take_profits(needs_take_profit)

    def _place_take_profits(self, lots: Sequence[Lot]) -> None:
        if not lots:
            return
        drafts = []
        for lot in lots:
            target, amount, problem = self.grid.take_profit(lot)
            if problem:
                self._notes.append(f"lot {lot.entry_client_order_id} has no take-profit: {problem}")
                continue
            wait = self.gate.order_wait(Side.SELL, target, lot=lot.entry_client_order_id)
            if wait is None and self.gate.full():
                self._make_room()
            wait = wait or self.gate.slot_wait(Side.SELL, amount) or self.gate.funds_wait(Side.SELL, target, amount)
            if wait:
                self._notes.append(f"lot {lot.entry_client_order_id}: take-profit at {target:f} waits: {wait}")
                continue
            self.gate.take(Side.SELL, amount)
            drafts.append(self._draft(Role.TAKE_PROFIT, Side.SELL, OrderType.LIMIT, amount, target, lot))
        self._send(drafts)

    def _make_room(self) -> None:
        """At the open-order cap, a lot's take-profit goes before a buy: cancel the deepest untouched buy."""
        untouched = [
            o for o in self.book.with_role(Role.GRID_BUY) if o.status is OrderStatus.OPEN and not o.filled and o.price
        ]
        if untouched:
            deepest = min(untouched, key=lambda o: o.price or ZERO)
            self._notes.append(f"buy {deepest.client_order_id} canceled: a take-profit needs its open-order slot")
            self._cancel_orders([deepest])

    def _stop_out(self, lot: Lot, reason: ExitReason, price: Decimal) -> None:
        exit_order = self.book.get(lot.exit_client_order_id or "")
        if exit_order is not None:
            if exit_order.role is not Role.TAKE_PROFIT or exit_order.status is OrderStatus.PENDING:
                return  # already selling at market, or an unresolved send that reconcile must settle first
            self._cancel_orders([exit_order])
            found = self.positions.open.get(lot.entry_client_order_id)
            if found is None:
                return  # the take-profit filled before the cancel reached it
            lot = found
        amount, problem = self.grid.sell_amount(lot.remaining, price)
        refusal = self.rules.refusal(price, amount, market=True)  # also MARKET_LOT_SIZE
        problem = problem or (str(refusal) if refusal is not None else None)
        if problem:
            self._notes.append(f"lot {lot.entry_client_order_id} cannot be sold ({reason}): {problem}")
            return
        wait = (
            self.gate.order_wait(Side.SELL, None, lot=lot.entry_client_order_id)
            or self.gate.slot_wait(Side.SELL, amount)
            or self.gate.funds_wait(Side.SELL, None, amount)
        )
        if wait:
            self._notes.append(f"lot {lot.entry_client_order_id}: {reason} sale waits: {wait}")
            return
        self.gate.take(Side.SELL, amount)
        self._send([self._draft(Role(str(reason)), Side.SELL, OrderType.MARKET, amount, None, lot)])

    # --- steps 5 and 6: reprice and the ladder -----------------------------------------------------------------------
    def _manage_ladder(self, price: Decimal, now: datetime) -> None:
        self._paused.extend(self.risk.pause_reasons(self.exits, now))
        if self._paused:
            self._cancel_buys(untouched_only=True)
            return
        buys = self.book.with_role(Role.GRID_BUY)
        anchor = self.anchor
        if anchor is None or (not buys and not self.positions.open):
            anchor = price
        elif self.grid.should_reprice(anchor, price):
            self._cancel_buys(untouched_only=True)
            buys = self.book.with_role(Role.GRID_BUY)
            anchor = price
        if anchor != self.anchor:
            symbol = self.config.symbol
            if self.anchor is not None and anchor > self.anchor:
                moved = event(EventKind.LADDER_TRAILED, now, symbol=symbol, from_anchor=self.anchor, to_anchor=anchor)
            else:
                moved = event(
                    EventKind.LADDER_PLACED, now, symbol=symbol, anchor=anchor, levels=self.config.grid_levels
                )
            self.journal.save(anchor=anchor, events=[moved])
            self.anchor = anchor
        ladder = self.grid.ladder(anchor)
        self._skipped = ladder.skipped
        if self._skipped != self._skips:
            self._skips = self._skipped
            if self._skipped:
                self._events.append(
                    event(
                        EventKind.LEVEL_SKIPPED,
                        now,
                        key="level_skipped",
                        symbol=self.config.symbol,
                        reasons=self._skipped,
                    )
                )
        free_slots = self.config.grid_levels - len(buys)
        if free_slots <= 0:
            return
        occupied = {o.price for o in buys}
        occupied.update(lot.level_price for lot in self.positions.open.values())
        drafts: list[OrderRecord] = []
        waiting: list[str] = []
        for level in ladder.levels:
            if len(drafts) >= free_slots:
                break
            if level.price in occupied or level.price >= price:
                continue  # held or resting already; or at/above the price, where it would fill at once as a taker
            refused = self.risk.buy_refused(len(self.positions.open), len(buys) + len(drafts))
            if refused:
                self._paused.append(refused)
                break
            wait = self.gate.order_wait(Side.BUY, level.price) or self.gate.slot_wait(Side.BUY, level.amount)
            if wait:
                waiting.append(f"level {level.index} at {level.price:f} waits: {wait}")
                continue
            wait = self.gate.funds_wait(Side.BUY, level.price, level.amount)
            if wait:
                self._paused.append(wait)
                break
            self.gate.take(Side.BUY, level.amount)
            drafts.append(self._draft(Role.GRID_BUY, Side.BUY, OrderType.LIMIT, level.amount, level.price, None))
        self._skipped += tuple(waiting)
        self._send(drafts)

    def _cancel_buys(self, *, untouched_only: bool) -> None:
        """Cancel resting grid buys. `untouched_only` spares a partly filled buy whose filled part could not be
        sold on its own (below the market minimums); a sellable part becomes a lot with its take-profit."""
        for record in self.book.with_role(Role.GRID_BUY):
            if record.status is OrderStatus.PENDING:
                continue  # unresolved: reconcile settles it first
            if untouched_only and record.filled > 0 and record.price is not None:
                target = self.grid.take_profit_price(record.price)
                if self.grid.sell_amount(self.positions.received(record), target)[1] is not None:
                    # Cancelling now would leave a lot too small to sell: let the buy complete instead.
                    self._notes.append(f"buy {record.client_order_id} partly filled ({record.filled:f}), kept")
                    continue
            self._cancel_orders([record])

    def _cancel_orders(self, records: Sequence[OrderRecord]) -> None:
        for record in records:
            if record.status is OrderStatus.PENDING:
                continue  # unresolved: reconcile settles it first
            self.reconciler.cancel(record)
            self.gate.freed()
            self.gate.release(self.rules.quote if record.side is Side.BUY else self.rules.base)

    # --- sending -----------------------------------------------------------------------------------------------------
    def _draft(
        self, role: Role, side: Side, kind: OrderType, amount: Decimal, price: Decimal | None, lot: Lot | None
    ) -> OrderRecord:
        self._seq += 1
        return OrderRecord(
            client_order_id=f"{self.config.client_id_prefix}{self._seq}",
            symbol=self.config.symbol,
            side=side,
            type=kind,
            role=role,
            amount=amount,
            price=price,
            created_at=self.clock.now(),
            parent=lot.entry_client_order_id if lot is not None else None,
        )

    def _send(self, drafts: Sequence[OrderRecord]) -> None:
        """Journal the drafts as pending (one write), then send them; adopt each answer."""
        if not drafts:
            return
        lots = [
            self.positions.set_exit(self.positions.open[d.parent], d.client_order_id)
            for d in drafts
            if d.parent is not None
        ]
        self.journal.save(orders=drafts, lots=lots)
        for draft in drafts:
            self.book.put(draft)
        requests = [OrderRequest(d.client_order_id, d.symbol, d.side, d.type, d.amount, d.price) for d in drafts]
        results = self.exchange.place_orders(requests)
        unknown: RetryableError | None = None
        now = self.clock.now()
        for draft, result in zip(drafts, results, strict=True):
            if isinstance(result, OrderState):
                self.gate.accepted(draft.side, draft.price, lot=draft.parent)
                self.reconciler.apply(draft, result)
            elif isinstance(result, RetryableError):
                unknown = result  # stays pending: reconcile finds out whether it arrived
            elif isinstance(result, OrderNotSent):
                self.reconciler.mark_lost(draft, str(result), now)
            else:
                self._reject(draft, result, now)
        if unknown is not None:
            raise unknown

    def _reject(self, draft: OrderRecord, error: ExchangeError, now: datetime) -> None:
        message = f"{type(error).__name__}: {error}"
        self.reconciler.mark_lost(draft, message, now, OrderStatus.REJECTED)
        wait = self.gate.refused(draft.side, draft.price, error, lot=draft.parent)
        if isinstance(error, InsufficientFunds) and draft.side is Side.BUY:
            self._paused.append(wait)
        else:
            self._notes.append(f"order {draft.client_order_id} rejected: {wait}")

    # --- steps 7 and 8: balance check, publish -----------------------------------------------------------------------
    def _read_balances(self) -> dict[str, Balance]:
        if self._balances is None:
            self._balances = self.exchange.fetch_balance()
            self.gate.saw_balances(self._balances)
        return self._balances

    def _check_balance(self) -> None:
        balance = self._read_balances().get(self.rules.base)
        held = self.positions.held + self.positions.dust_quantity
        have = balance.total if balance is not None else ZERO
        gap = have < held
        if gap and not self._balance_note:
            self._events.append(
                event(
                    EventKind.BALANCE_GAP,
                    self.clock.now(),
                    key="balance_gap",
                    asset=self.rules.base,
                    held=held,
                    have=have,
                )
            )
        self._balance_note = (
            f"balance gap: the open lots and the dust hold {held:f} {self.rules.base}, the account has {have:f}"
            if gap
            else ""
        )

    def _error(self, exc: BaseException, now: datetime) -> None:
        self.last_error = f"{now.astimezone(UTC):%Y-%m-%d %H:%M:%S} {type(exc).__name__}: {exc}"[:500]
        log.warning("strategy %s: %s", self.config.strategy_id, self.last_error)
        name = type(exc).__name__
        self._events.append(event(EventKind.ERROR, now, key=f"error:{name}", error_class=name, message=str(exc)[:500]))

    def _track_pauses(self, now: datetime, down: str = "") -> None:
        """A paused event for each pause reason that appeared since the last tick, a resumed one for each that went."""
        reasons = {pause_cause(reason): reason for reason in self._paused}
        if down:
            reasons["exchange_down"] = down
        if reasons.keys() == self._pauses.keys():
            return
        symbol = self.config.symbol
        for cause in reasons.keys() - self._pauses.keys():
            self._events.append(
                event(
                    EventKind.PAUSED,
                    now,
                    key=f"paused:{cause}",
                    symbol=symbol,
                    reason=cause,
                    until=self._pause_until(cause, now),
                    detail=reasons[cause],
                )
            )
        for cause in self._pauses.keys() - reasons.keys():
            self._events.append(event(EventKind.RESUMED, now, key=f"resumed:{cause}", symbol=symbol, reason=cause))
        self._pauses = reasons

    def _pause_until(self, cause: str, now: datetime) -> datetime | None:
        if cause == "cooldown":
            return self.risk.cooldown_until(self.exits)
        if cause == "daily_loss_limit":
            return self.risk.day_start(now) + timedelta(days=1)
        return None

    def _flush_events(self, now: datetime) -> None:
        """Journal the events of the tick that no state change carried, their repeats throttled (an error every tick
        is written once per REPEAT_FLUSH, with its count). A failed write (the database away) keeps them for the
        next tick; it never fails the tick. A stop or a fatal error writes every held repeat: no tick may follow."""
        self._unsaved += self._repeats.admit(self._events, now, flush=self.state is not EngineState.RUNNING)
        self._events = []
        if not self._unsaved:
            return
        try:
            self.journal.save(events=self._unsaved)
        except Exception as exc:
            log.warning("strategy %s: events not written yet: %s", self.config.strategy_id, exc)
            del self._unsaved[:-100]  # a long outage keeps the latest, not an unbounded backlog
            return
        self._unsaved = []

    def publish(self, now: datetime) -> EngineStatus:
        self._flush_events(now)
        notes = tuple(dict.fromkeys(self._notes)) + self.positions.notes()
        if self._cap_note:
            notes += (self._cap_note,)
        if self._balance_note:
            notes += (self._balance_note,)
        status = EngineStatus(
            strategy_id=self.config.strategy_id,
            symbol=self.config.symbol,
            state=self.state,
            updated_at=now,
            current_price=self.price,
            pending_buys=self.book.buys,
            pending_sells=self.book.sells,
            position_count=len(self.positions.open),
            anchor_price=self.anchor,
            realized_pnl_today=self.risk.realized_today(self.exits, now),
            last_error=self.last_error,
            skipped_levels=self._skipped,
            paused=tuple(self._paused),
            notes=notes,
        )
        self.status_board.publish(status)
        return status
