"""Invariants of the engine over random price paths, random configs and random fault schedules (hypothesis)."""

from __future__ import annotations

import os
from collections import defaultdict
from decimal import Context
from decimal import Decimal as D
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchanges.base import ZERO, OrderStatus, Side
from exchanges.paper.faults import Fault, FaultInjector
from tests.core.harness import Harness
from trading.core.memory import InMemoryJournal
from trading.core.types import FillRecord, Lot

# CORE_EXAMPLES=2000 for a deeper hunt than the default run's.
EXAMPLES = int(os.environ.get("CORE_EXAMPLES", "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

moves = st.lists(st.tuples(st.integers(-300, 300), st.integers(1, 1800)), min_size=3, max_size=40)
configs = st.fixed_dictionaries(
    {
        "grid_levels": st.integers(1, 5),
        "buy_offset_pct": st.sampled_from([D("0.3"), D("0.5"), D(1)]),
        "sell_offset_pct": st.sampled_from([D("0.2"), D("0.5"), D(1)]),
        "reprice_threshold_pct": st.sampled_from([D("0.3"), D(1)]),
        "max_positions": st.integers(1, 8),
        "stop_loss_pct": st.none() | st.sampled_from([D(1), D(2)]),
        "time_stop_hours": st.none() | st.sampled_from([D("0.5"), D(2)]),
        "daily_loss_limit": st.none() | st.just(D("0.3")),
        "max_consecutive_losses": st.none() | st.just(2),
        "cooldown_minutes": st.just(5),
    }
)
WIDE = Context(prec=80)
fault_schedules = st.dictionaries(st.integers(1, 600), st.sampled_from(list(Fault)), max_size=40)


def prices(start: D, steps: list[tuple[int, int]]) -> list[tuple[D, int]]:
    out, price = [], start
    for move, gap in steps:
        price = max(D(1000), price + D(move))
        out.append((price, gap))
    return out


def filling(h: Harness) -> D:
    """The BTC that buys still filling have delivered (their fills, less a fee taken in BTC)."""
    active = [o for o in h.journal.orders.values() if o.is_active and o.side is Side.BUY]
    return sum((o.filled - (o.fee if o.fee_currency == "BTC" else ZERO) for o in active), ZERO)


def check_every_tick(h: Harness, synced: bool = True) -> None:
    """`synced`: the tick ran without error, so the engine has seen every fill the exchange made (the paper
    exchange matches only when touched, and after the sync step a tick touches it at the same instant)."""
    buys = h.open_orders(Side.BUY)
    assert len(buys) <= h.config.grid_levels, "more resting buys than grid_levels"
    with h.store.session() as book:
        for asset, balance in book.balances.items():
            assert balance.free >= 0, f"negative free {asset}"
            assert balance.locked >= 0, f"negative locked {asset}"
    held = sum((lot.remaining for lot in h.open_lots()), ZERO)
    held += filling(h)
    if synced:
        assert held <= h.balance("BTC"), "the lots claim more than the account holds"
    exits: dict[str, int] = defaultdict(int)
    for order in h.journal.orders.values():
        if order.is_active and order.parent is not None:
            exits[order.parent] += 1
        if order.status is OrderStatus.REJECTED:
            # rounding and sizing are right by construction: only a buy may be refused, and only for funds
            assert order.side is Side.BUY, order.error
            assert "InsufficientFunds" in order.error, order.error
    assert all(n == 1 for n in exits.values()), "a lot with two live exits"
    selling = sum((o.amount - o.filled for o in h.open_orders(Side.SELL)), ZERO)
    assert selling <= held, "selling more than is held"


def settle(h: Harness) -> None:
    """Switch the faults off and let the engine reconcile at an unchanged price."""
    if h.faults is not None:
        h.faults._schedule.clear()
        h.faults._queued.clear()
        h.faults.partial_fills = 0
    price = h.feed.price_at(h.clock.now())
    for _ in range(2):
        h.step(price)


def fee_in_quote(fill: FillRecord) -> D:
    return fill.fee * fill.price if fill.fee_currency == "BTC" else fill.fee


def check_books(h: Harness, start_quote: D) -> None:
    journal: InMemoryJournal = h.journal
    assert not [o for o in journal.orders.values() if o.status is OrderStatus.PENDING]
    # the journal and the exchange agree on what is open
    tracked = {o.client_order_id for o in journal.orders.values() if o.is_active}
    assert {o.client_order_id for o in h.open_orders()} == tracked
    # client order ids are unique and every order the exchange has was journaled first
    on_exchange = [o.client_order_id for o in h.store.all_orders()]
    assert len(on_exchange) == len(set(on_exchange))
    assert set(on_exchange) <= set(journal.orders)
    assert not {cid for cid, o in journal.orders.items() if o.status is OrderStatus.LOST} & set(on_exchange)
    # every fill the exchange made is in the journal, once
    exchange_trades = {(o.client_order_id, t.trade_id) for o in h.store.all_orders() for t in o.trades}
    assert set(journal.fills) == exchange_trades
    # value is conserved: quote + base moved only by fills and their fees, in whichever asset each fee was paid
    fills = list(journal.fills.values())
    assert {f.fee_currency for f in fills} <= {"USDT", "BTC"}
    bought = sum((f.amount for f in fills if f.side is Side.BUY), ZERO)
    sold = sum((f.amount for f in fills if f.side is Side.SELL), ZERO)
    base_fees = sum((f.fee for f in fills if f.fee_currency == "BTC"), ZERO)
    spent = sum((f.price * f.amount for f in fills if f.side is Side.BUY), ZERO)
    received = sum((f.price * f.amount for f in fills if f.side is Side.SELL), ZERO)
    quote_fees = sum((f.fee for f in fills if f.fee_currency == "USDT"), ZERO)
    assert h.balance("BTC") == bought - sold - base_fees
    assert h.balance("USDT") == start_quote - spent + received - quote_fees
    # what the open lots, the dust of closed lots and the buys still filling hold is what the account holds
    assert sum((lot.remaining for lot in h.lots()), ZERO) + filling(h) == h.balance("BTC")
    by_order = defaultdict(list)
    for fill in fills:
        by_order[fill.client_order_id].append(fill)
    # the lots' costs are exactly what their buys paid (dust moves between lots with its cost, never lost or made)
    paid = sum(
        (f.price * f.amount + (f.fee if f.fee_currency == "USDT" else ZERO))
        for lot in h.lots()
        for f in by_order[lot.entry_client_order_id]
    )
    assert sum((lot.entry_cost + lot.entry_fee_quote for lot in h.lots()), ZERO) == paid
    step = h.engine.rules.step_size
    for lot in h.lots():
        exits = [o for o in journal.orders.values() if o.parent == lot.entry_client_order_id]
        exit_fills = [f for o in exits for f in by_order[o.client_order_id]]
        assert sum((f.amount for f in exit_fills), ZERO) == lot.sold_quantity <= lot.quantity
        if not lot.is_open:
            # exactly one exit completed the lot, leaving less than a step unsold
            assert [o.client_order_id for o in exits if o.status is OrderStatus.FILLED] == [lot.exit_client_order_id]
            assert lot.remaining < step
            # the PnL is the exit fills' money net of fees, less the cost of the part of the lot that was sold
            proceeds = sum((f.price * f.amount - fee_in_quote(f) for f in exit_fills), ZERO)
            basis = WIDE.divide(WIDE.multiply(lot.entry_cost + lot.entry_fee_quote, lot.sold_quantity), lot.quantity)
            assert lot.realized_pnl is not None
            assert abs(lot.realized_pnl - WIDE.subtract(proceeds, basis)) <= D("2e-18")
            entry = by_order[lot.entry_client_order_id]
            delivered = sum((f.amount - (f.fee if f.fee_currency == "BTC" else ZERO) for f in entry), ZERO)
            if lot.sold_quantity == lot.quantity == delivered:
                # it sold all its buy delivered, and no dust came or went: the PnL is the fills' money, exactly
                assert lot.realized_pnl == proceeds - sum((f.price * f.amount + fee_in_quote(f) for f in entry), ZERO)
    status = h.board.last
    assert status is not None
    closed_today = [
        lot for lot in h.closed_lots() if lot.closed_at and lot.closed_at >= h.engine.risk.day_start(h.clock.now())
    ]
    assert status.realized_pnl_today == sum((lot.realized_pnl or ZERO for lot in closed_today), ZERO)


@SETTINGS
@given(config=configs, steps=moves, schedule=fault_schedules, buy_fee_in_base=st.booleans())
def test_invariants_hold_over_random_paths_and_faults(config: dict[str, Any], steps, schedule, buy_fee_in_base):
    """`buy_fee_in_base`: the exchange takes a buy's fee from the BTC bought, as Binance does, so lots hold
    fractions of a step and leave dust."""
    faults = FaultInjector(schedule)
    h = Harness("30000", faults=faults, buy_fee_in_base=buy_fee_in_base, **config)
    status = h.start()
    check_every_tick(h, synced=not h.engine.reconciler.needed and not status.last_error)
    for price, gap in prices(D(30000), steps):
        before = h.engine.last_error
        h.step(price, seconds=gap)
        check_every_tick(h, synced=not h.engine.reconciler.needed and h.engine.last_error == before)
    settle(h)
    check_every_tick(h)
    check_books(h, D(10000))


class Crash(BaseException):
    """The process dies: nothing after this point of the tick runs."""


class CrashingJournal(InMemoryJournal):
    def __init__(self, crash_at: int, after_write: bool) -> None:
        super().__init__()
        self.crash_at = crash_at
        self.after_write = after_write
        self.calls = 0

    def save(self, **changes: Any) -> None:
        self.calls += 1
        if self.calls == self.crash_at and not self.after_write:
            raise Crash
        super().save(**changes)
        if self.calls == self.crash_at:
            raise Crash


def book_of(h: Harness) -> dict[str, Any]:
    """Everything about the book except client order ids (a re-placed order gets a new one)."""
    with h.store.session() as book:
        balances = {a: (b.free, b.locked) for a, b in book.balances.items() if b.free or b.locked}
    orders = sorted((o.side, o.price, o.amount, o.filled) for o in h.open_orders())

    def lot_key(lot: Lot) -> tuple[Any, ...]:
        return (
            lot.level_price,
            lot.quantity,
            lot.entry_cost,
            lot.entry_fee_quote,
            lot.opened_at,
            lot.sold_quantity,
            lot.exit_proceeds,
            lot.closed_at,
            lot.realized_pnl,
            lot.exit_reason,
        )

    return {
        "balances": balances,
        "open_orders": orders,
        "lots": sorted(lot_key(lot) for lot in h.lots()),
        "anchor": h.journal.anchor,
    }


def run(
    config: dict[str, Any], path: list[tuple[D, int]], journal: InMemoryJournal | None = None, base_fee: bool = False
) -> Harness:
    h = Harness("30000", journal=journal, buy_fee_in_base=base_fee, **config)
    crashed = False
    try:
        h.start()
    except Crash:
        crashed = True
        h.restart()
    for price, gap in path:
        try:
            h.step(price, seconds=gap)
        except Crash:
            assert not crashed
            crashed = True
            h.restart()  # a new process: fresh engine, same journal and exchange, same moment
    return h


@SETTINGS
@given(config=configs, steps=moves, crash_at=st.integers(1, 60), after_write=st.booleans(), base_fee=st.booleans())
def test_a_crash_at_any_write_then_restart_ends_in_the_same_book(config, steps, crash_at, after_write, base_fee):
    path = prices(D(30000), steps)
    clean = run(config, path, base_fee=base_fee)
    journal = CrashingJournal(crash_at, after_write)
    crashed = run(config, path, journal, base_fee)
    assert book_of(crashed) == book_of(clean)
    check_books(crashed, D(10000))
