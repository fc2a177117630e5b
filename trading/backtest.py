"""Backtests: historical candles through the very engine that trades live. Pure: no Django, no I/O of its own.

    result = run_backtest(load_series(["BTCUSDT-1m-2024-01.csv", …]), config, market_rules("BTC/USDT"),
                          BacktestOptions(initial_quote=Decimal(10_000), progress=print))

The same TradingEngine (with its GridStrategy, RiskManager and PositionTracker) trades against the same
PaperExchange as a paper account does, on an in-memory journal; only the price and the clock come from the candles.
So a backtest cannot disagree with live trading: what differs is only when the engine looks.

Semantics
- Each candle is a path of four points: the open at its open time, the extreme nearer the open at +⅓ of its
  duration, the other extreme at +⅔, the close 1 ms before its end (exchanges.paper.feeds.candle_path, the one
  place the rule lives; on a tie a rising candle goes low first). A candle lasts the data's usual spacing, or until
  the next candle opens when that is sooner.
- The engine ticks at every point of the path: a stop-loss sells at the point where the price crossed it (at
  market, with the exchange's slippage), and a take-profit is placed within the candle its buy filled in.
- The paper exchange fills a resting limit order at its limit price, maker fee, when the path goes strictly past
  it; an order marketable when placed fills at the current point's price, taker fee; a market order at the price
  moved by `slippage_pct` against the trader, taker fee. Fees in quote, or the buy's in base (`buy_fee_in_base`).
  The market's rules (tick, step, minimums, price band, open-order cap) are the exchange's own checks.
- Gaps: where the next candle opens after the end of a candle's usual interval the data has a gap (from, to,
  length in `BacktestResult.gaps`). The exchange is unavailable then: nothing is ticked, placed or filled; stops and
  time stops that came due act at the first point after it, and resting orders fill only on prices after it.

Speed (`Mode.FAST`, the default): between two events the engine's state cannot change, so the quiet points are
skipped. After each tick `_quiet_until` reads the engine's state and returns the prices and the time that would
change it — a resting buy's price or a stop-loss price below (the path going strictly under it), a take-profit's
price, the reprice threshold or a free ladder level above (strictly over it), a time stop, the local midnight of
the daily loss limit, a cooldown's end or the end of a refusal's wait (OrderGate.wakes) — and numpy finds the first
point of the path that may reach one of them, in float64 columns that only find candidates (a time by its candle).
That point is ticked, in Decimal, exactly as `Mode.EVERY_POINT` ticks every point of every candle. Whenever the
state is not plainly at rest (an order part-filled or unresolved, a lot without its take-profit, a stop not carried
out, a level that could be placed and is not with no wait saying until when) every point is ticked until it is.
tests/core/test_backtest.py proves both modes give the same orders and fills.

Money is Decimal throughout; numpy only says where to look.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from exchanges.base import ZERO, MarketRules, OrderStatus, OrderType, Side
from exchanges.clock import ManualClock
from exchanges.paper.book import InMemoryPaperStore
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.feeds import EPOCH, Candle, SteppedFeed, candle_path
from exchanges.paper.series import CandleSeries
from trading.core.engine import TradingEngine
from trading.core.memory import InMemoryJournal, InMemoryStatusBoard
from trading.core.types import EngineConfig, EngineState, ExitReason, FillRecord, Lot, OrderRecord, Role
from trading.equity import PathEquity, path_columns

_MS = timedelta(milliseconds=1)
_FIRST_SCAN = 64  # candles in the first numpy scan after an event; doubled while nothing is found
_LONGEST_SCAN = 1 << 16
# Candle paths a PreparedSeries keeps (about 1 kB each): the candles where something happens are much the same for
# the neighbouring parameters of a sweep, and far fewer than the candles.
_KEPT_PATHS = 50_000

Progress = Callable[[int, int], None]  # (candles done, candles in all)


class Mode(StrEnum):
    FAST = "fast"  # skip the candles where nothing can happen
    EVERY_POINT = "every_point"  # tick every point of every candle (the reference the fast mode must equal)


@dataclass(frozen=True, slots=True)
class BacktestOptions:
    initial_quote: Decimal = Decimal(10_000)
    initial_base: Decimal = ZERO
    slippage_pct: Decimal = Decimal("0.05")  # market orders (stop-loss, time stop) fill this much worse
    buy_fee_in_base: bool = False  # a buy's fee from the base it receives, as Binance does without BNB
    mode: Mode = Mode.FAST
    tz: tzinfo = UTC  # the day boundary of the daily loss limit (TIME_ZONE)
    interval: timedelta | None = None  # the candles' interval; by default their most frequent spacing
    equity_points: int = 1000  # at most this many points in the equity curve (at candle closes)
    # Called with (candles done, candles in all) every `progress_every` candles or so, and once at the end; an
    # exception raised in it ends the run there (a cancel), as it propagates out of run_backtest.
    progress: Progress | None = None
    progress_every: int = 50_000


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch without data: the exchange was unavailable from `start` to `end`."""

    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """What a backtest did, all money in the market's quote currency (`quote`) unless a fee's currency says else.

    realized_pnl sums the closed lots (net of both fees); unrealized_pnl values the open lots at the last close,
    net of their buy fee; fees are per currency as charged, fees_quote all of them valued in quote at their fill's
    price. Equity is the quote and base held (free and locked) valued at the path's price, at every point of every
    candle: max_drawdown is the largest fall of it from an earlier high, max_drawdown_pct that fall against the
    high. capital_peak is the most quote tied up at once (resting buys plus the cost of the lots held).
    buy_and_hold_pnl: all the starting quote bought at the first open (taker fee), valued at the last close.
    """

    symbol: str
    quote: str
    base: str
    mode: Mode
    start: datetime
    end: datetime
    candles: int
    candles_ticked: int
    ticks: int
    gaps: list[Gap]
    orders: list[OrderRecord]
    fills: list[FillRecord]
    closed_positions: list[Lot]
    open_positions: list[Lot]
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: dict[str, Decimal]
    fees_quote: Decimal
    grid_cycles: int  # lots closed by their take-profit
    time_in_market: timedelta  # while at least one lot was open
    capital_peak: Decimal
    equity_start: Decimal
    equity_end: Decimal
    max_drawdown: Decimal
    max_drawdown_pct: Decimal
    equity_curve: list[tuple[datetime, Decimal]]
    buy_and_hold_pnl: Decimal
    last_price: Decimal
    final_status_notes: tuple[str, ...] = field(default=())

    @property
    def total_pnl(self) -> Decimal:
        return self.realized_pnl + self.unrealized_pnl

    def summary(self) -> dict[str, str | int]:
        """The figures, ready for JSON or a table: money as plain decimal strings (never floats), times in ISO 8601
        UTC, durations in seconds."""

        def money(value: Decimal) -> str:
            return format(value.normalize(), "f") if value else "0"

        return {
            "symbol": self.symbol,
            "quote": self.quote,
            "mode": self.mode.value,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "candles": self.candles,
            "candles_ticked": self.candles_ticked,
            "gaps": len(self.gaps),
            "orders": len(self.orders),
            "fills": len(self.fills),
            "closed_positions": len(self.closed_positions),
            "open_positions": len(self.open_positions),
            "grid_cycles": self.grid_cycles,
            "realized_pnl": money(self.realized_pnl),
            "unrealized_pnl": money(self.unrealized_pnl),
            "total_pnl": money(self.total_pnl),
            "fees_quote": money(self.fees_quote),
            "equity_start": money(self.equity_start),
            "equity_end": money(self.equity_end),
            "max_drawdown": money(self.max_drawdown),
            "max_drawdown_pct": money(self.max_drawdown_pct.quantize(Decimal("0.0001"))),
            "capital_peak": money(self.capital_peak),
            "time_in_market_seconds": int(self.time_in_market.total_seconds()),
            "buy_and_hold_pnl": money(self.buy_and_hold_pnl.quantize(Decimal("1e-8"))),
            "last_price": money(self.last_price),
        }


def run_backtest(
    candles: PreparedSeries | CandleSeries | Sequence[Candle],
    config: EngineConfig,
    market: MarketRules,
    options: BacktestOptions | None = None,
) -> BacktestResult:
    """Replay `candles` (in time order) through a TradingEngine with `config` on a paper exchange with `market`'s
    rules and `options`' balances; return everything it did (see the module docstring). Many runs over the same
    candles (a sweep) pass one `prepare_series` of them, which spares each run the work that depends on the
    candles alone."""
    if market.symbol != config.symbol:
        raise ValueError(f"the strategy trades {config.symbol}, the market rules are for {market.symbol}")
    return _Run(candles, config, market, options or BacktestOptions()).run()


class PreparedSeries:
    """A series with what every run over it computes before its first tick: the candles' ends and gaps, the path
    as float columns, and each candle's path in Decimal once some run has ticked it. Nothing here depends on the
    strategy, so runs that share it give exactly the results they give alone (tests/core/test_sweep.py)."""

    def __init__(self, series: CandleSeries, interval_ms: int) -> None:
        self.series = series
        self.interval_ms = interval_ms
        n = len(series)
        next_open = np.append(series.open_ms[1:], np.iinfo(np.int64).max)
        self.end_ms = np.minimum(series.open_ms + interval_ms, next_open)  # a candle ends at the next open if sooner
        gap_at = np.flatnonzero(next_open[:-1] > series.open_ms[:-1] + interval_ms) if n > 1 else np.array([], int)
        self.gap_after = {i: Gap(_at(int(self.end_ms[i])), _at(int(series.open_ms[i + 1]))) for i in gap_at.tolist()}
        self.points, self.low_first = path_columns(series)
        self._paths: dict[int, list[tuple[datetime, Decimal]]] = {}

    def __len__(self) -> int:
        return len(self.series)

    def path(self, i: int) -> list[tuple[datetime, Decimal]]:
        """Candle i's four points (candle_path); the runs only read them."""
        found = self._paths.get(i)
        if found is None:
            duration = timedelta(milliseconds=int(self.end_ms[i] - self.series.open_ms[i]))
            found = candle_path(self.series.candle(i), duration)
            if len(self._paths) < _KEPT_PATHS:
                self._paths[i] = found
        return found


def prepare_series(candles: CandleSeries | Sequence[Candle], interval: timedelta | None = None) -> PreparedSeries:
    """`candles` ready for any number of runs (`interval`: as BacktestOptions.interval)."""
    series = candles if isinstance(candles, CandleSeries) else CandleSeries.from_candles(candles)
    return PreparedSeries(series, interval // _MS if interval is not None else usual_interval_ms(series.open_ms))


def usual_interval_ms(open_ms: npt.NDArray[np.int64]) -> int:
    """The most frequent spacing of the candles, in ms (one minute for a single candle)."""
    if len(open_ms) < 2:
        return 60_000
    values, counts = np.unique(np.diff(open_ms), return_counts=True)
    return int(values[int(np.argmax(counts))])


class _Run:
    def __init__(
        self,
        candles: PreparedSeries | CandleSeries | Sequence[Candle],
        config: EngineConfig,
        market: MarketRules,
        options: BacktestOptions,
    ):
        interval = options.interval // _MS if options.interval is not None else None
        if isinstance(candles, PreparedSeries) and interval in (None, candles.interval_ms):
            prepared = candles
        else:
            prepared = prepare_series(
                candles.series if isinstance(candles, PreparedSeries) else candles, options.interval
            )
        self.prepared = prepared
        self.series = series = prepared.series
        self.config = config
        self.market = market
        self.options = options
        self.end_ms = prepared.end_ms
        self.gap_after = prepared.gap_after
        self.gaps = list(self.gap_after.values())
        start = _at(int(series.open_ms[0]))
        self.clock = ManualClock(start)
        self.feed = SteppedFeed()
        balances = {market.quote: options.initial_quote}
        if options.initial_base:
            balances[market.base] = options.initial_base
        self.store = InMemoryPaperStore(balances)
        self.exchange = PaperExchange(
            self.store,
            feeds={config.symbol: self.feed},
            clock=self.clock,
            markets={config.symbol: market},
            slippage_pct=options.slippage_pct,
            buy_fee_in_base=options.buy_fee_in_base,
        )
        self.journal = InMemoryJournal(keep_events=False)
        self.board = InMemoryStatusBoard()
        # The balance check compares the account with the lots, for trades made by hand beside the engine: there
        # are none here. It runs at the first tick only, so that what the engine reads never depends on how many
        # ticks came before (the fast mode ticks fewer); funds waits still read the balance when they end.
        self.engine = TradingEngine(
            config,
            exchange=self.exchange,
            journal=self.journal,
            status_board=self.board,
            clock=self.clock,
            tz=options.tz,
            balance_check_every=1 << 62,
        )
        self.points, self.low_first = prepared.points, prepared.low_first
        self._path: list[tuple[datetime, Decimal]] = []
        self._path_of = -1
        self.started = False
        self.ticks = 0
        self.candles_ticked = 0
        self.capital_peak = ZERO
        # (first point index, quote held, base held): the holdings from that point of the path on
        self.holdings: list[tuple[int, Decimal, Decimal]] = [(0, options.initial_quote, options.initial_base)]

    # --- the walk -----------------------------------------------------------------------------------------------------
    def run(self) -> BacktestResult:
        n = len(self.series)
        total = 4 * n
        fast = self.options.mode is Mode.FAST
        report = self.options.progress
        every = max(self.options.progress_every, 1)
        next_report = every
        j = 0  # the point of the path: candle j // 4, its point j % 4
        while j < total:
            if fast and self.started:
                quiet = _quiet_until(self.engine, self.clock.now())
                if quiet is not None:
                    j = self._next_event(j, *quiet)
                    if j >= total:
                        break
            self._tick_point(j)
            j += 1
            if report is not None and j // 4 >= next_report:
                report(j // 4, n)
                next_report = j // 4 + every
        if report is not None:
            report(n, n)
        return self._result()

    def _next_event(self, j: int, low: Decimal | None, high: Decimal | None, until: datetime | None) -> int:
        """The first point from j on where the path may go strictly under `low` or over `high`, or the first point
        of the candle in which `until` may come. The float columns round each price to the nearest double, which
        keeps every order (a < b ⇒ float(a) ≤ float(b)), so comparing with ≤ and ≥ finds every such point, and
        perhaps a few more; a time is looked for by candle, whose end is a bound of its points' times."""
        total = len(self.points)
        limit = total
        if until is not None:
            candle = int(np.searchsorted(self.end_ms, (until - EPOCH) // _MS, side="left"))
            limit = max(j, 4 * candle)
        low_f = float(low) if low is not None else -math.inf
        high_f = float(high) if high is not None else math.inf
        size = _FIRST_SCAN
        points = self.points
        while j < limit:
            stop = min(limit, j + size)
            window = points[j:stop]
            hit = (window <= low_f) | (window >= high_f)
            first = int(np.argmax(hit))
            if hit[first]:
                return j + first
            j = stop
            size = min(size * 2, _LONGEST_SCAN)
        return limit

    def _tick_point(self, j: int) -> None:
        i, k = divmod(j, 4)
        if self._path_of != i:
            self._path = self.prepared.path(i)
            self._path_of = i
            self.candles_ticked += 1
        at, price = self._path[k]
        self.clock.set(at)
        self.feed.step(at, price)
        if self.started:
            self.engine.tick()
        else:
            self.engine.start()
            self.started = True
        self.ticks += 1
        self._after_tick(j)
        gap = self.gap_after.get(i) if k == 3 else None
        if gap is not None:
            self.feed.down(f"exchange unavailable: the data has no candles from {gap.start:%Y-%m-%d %H:%M:%S} UTC")

    def _after_tick(self, point: int) -> None:
        if self.engine.state is EngineState.ERROR:
            raise RuntimeError(f"the engine failed at {self.clock.now().isoformat()}: {self.engine.last_error}")
        book = self.store.book
        quote = book.balance(self.market.quote)
        base = book.balance(self.market.base)
        held = (quote.total, base.total)
        if held != self.holdings[-1][1:]:
            self.holdings.append((point, *held))
        in_lots = sum(
            ((lot.entry_cost + lot.entry_fee_quote) * lot.remaining / lot.quantity for lot in self._open_lots()), ZERO
        )
        used = quote.locked + in_lots
        if used > self.capital_peak:
            self.capital_peak = used

    def _open_lots(self) -> list[Lot]:
        return [lot for lot in self.engine.positions.open.values() if lot.quantity]

    # --- the result ---------------------------------------------------------------------------------------------------
    def _result(self) -> BacktestResult:
        series, market = self.series, self.market
        n = len(series)
        last = series.candle(n - 1)
        first = series.candle(0)
        end = _at(int(self.end_ms[-1]))
        fills = sorted(self.journal.fills.values(), key=lambda f: f.executed_at)
        lots = list(self.journal.lots.values())
        closed = sorted((lot for lot in lots if not lot.is_open), key=lambda lot: lot.closed_at or end)
        still_open = [lot for lot in lots if lot.is_open]
        realized = sum((lot.realized_pnl or ZERO for lot in closed), ZERO)
        unrealized = sum(
            (
                lot.remaining * last.close - (lot.entry_cost + lot.entry_fee_quote) * lot.remaining / lot.quantity
                for lot in still_open
                if lot.quantity
            ),
            ZERO,
        )
        fees: dict[str, Decimal] = {}
        fees_quote = ZERO
        for fill in fills:
            fees[fill.fee_currency] = fees.get(fill.fee_currency, ZERO) + fill.fee
            fees_quote += fill.fee if fill.fee_currency == market.quote else fill.fee * fill.price
        equity = PathEquity(series, self.holdings, self.points, self.low_first)
        start_equity = self.options.initial_quote + self.options.initial_base * first.open
        end_equity = equity.at_point(4 * n - 1)
        drawdown, high = equity.max_drawdown()
        bought = self.options.initial_quote * (1 - market.taker_fee) / first.open
        status = self.board.last
        return BacktestResult(
            symbol=self.config.symbol,
            quote=market.quote,
            base=market.base,
            mode=self.options.mode,
            start=first.open_time,
            end=end,
            candles=n,
            candles_ticked=self.candles_ticked,
            ticks=self.ticks,
            gaps=self.gaps,
            orders=list(self.journal.orders.values()),
            fills=fills,
            closed_positions=closed,
            open_positions=still_open,
            realized_pnl=realized,
            unrealized_pnl=unrealized,
            fees=fees,
            fees_quote=fees_quote,
            grid_cycles=sum(1 for lot in closed if lot.exit_reason == ExitReason.TAKE_PROFIT),
            time_in_market=_time_in_market(lots, end),
            capital_peak=self.capital_peak,
            equity_start=start_equity,
            equity_end=end_equity,
            max_drawdown=drawdown,
            max_drawdown_pct=(drawdown / high * 100) if high else ZERO,
            equity_curve=equity.curve(self.end_ms, self.options.equity_points),
            buy_and_hold_pnl=bought * last.close - self.options.initial_quote,
            last_price=last.close,
            final_status_notes=status.notes if status is not None else (),
        )


def _at(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def _quiet_until(engine: TradingEngine, now: datetime) -> tuple[Decimal | None, Decimal | None, datetime | None] | None:
    """What would change the engine's state, read from the state after its last tick: (a price that the path
    going strictly below changes something, one that the path going strictly above does, the earliest time that
    does). None when the state is not plainly at rest, so that every point must be ticked (see the module
    docstring). Each rule below mirrors one step of TradingEngine.tick."""
    price = engine.price
    if engine.state is not EngineState.RUNNING or engine.reconciler.needed or price is None:
        return None
    gate = engine.gate
    lows: list[Decimal] = []
    highs: list[Decimal] = []
    times: list[datetime] = gate.wakes()
    buys = []
    for order in engine.book:
        # Anything but an untouched resting limit order is on its way somewhere: tick until it gets there.
        if order.status is not OrderStatus.OPEN or order.filled or order.type is not OrderType.LIMIT:
            return None
        if order.price is None:
            return None
        if order.role is Role.GRID_BUY:
            buys.append(order)
            lows.append(order.price)
        else:
            highs.append(order.price)
    risk = engine.risk
    for lot in engine.positions.open.values():
        exit_order = engine.book.get(lot.exit_client_order_id or "")
        if exit_order is None or exit_order.role is not Role.TAKE_PROFIT:
            return None  # a lot without its take-profit: the engine tries again at the next tick
        if risk.exit_reason(lot, price, now) is not None:
            return None  # a stop it could not carry out
        stop = risk.stop_price(lot)
        if stop is not None:
            lows.append(stop)
        due = risk.time_stop_at(lot)
        if due is not None:
            times.append(due)
    config = engine.config
    if config.daily_loss_limit is not None:
        times.append(risk.day_start(now) + timedelta(days=1))
    cooldown = risk.cooldown_until(engine.exits)
    if cooldown is not None and cooldown > now:
        times.append(cooldown)
    if not risk.pause_reasons(engine.exits, now):
        if engine.anchor is None or not (buys or engine.positions.open):
            return None  # the ladder re-anchors at every price
        highs.append(engine.grid.reprice_above(engine.anchor))
        cap = engine.rules.max_open_orders
        # At the exchange's open-order cap no level can be placed until an order of ours closes (an event).
        room = not cap or len(engine.book) + engine.reconciler.foreign_open < cap
        if room and len(buys) < config.grid_levels and len(engine.positions.open) + len(buys) < config.max_positions:
            occupied = {order.price for order in buys} | {lot.level_price for lot in engine.positions.open.values()}
            free = [level.price for level in engine.grid.ladder(engine.anchor).levels if level.price not in occupied]
            below = [level for level in free if level < price]
            unexplained = [level for level in below if gate.waiting_until(Side.BUY, level) is None]
            if unexplained and gate.funds_held_until(Side.BUY) is None:
                return None  # a level that could be placed and is not, and no wait says until when
            above = [level for level in free if level >= price]
            if above:
                highs.append(min(above))  # placed once the price is above it
    return (max(lows) if lows else None, min(highs) if highs else None, min(times) if times else None)


def _time_in_market(lots: Sequence[Lot], end: datetime) -> timedelta:
    spans = sorted((lot.opened_at, lot.closed_at or end) for lot in lots)
    total = timedelta(0)
    current: tuple[datetime, datetime] | None = None
    for start, stop in spans:
        if current is None or start > current[1]:
            if current is not None:
                total += current[1] - current[0]
            current = (start, stop)
        else:
            current = (current[0], max(current[1], stop))
    if current is not None:
        total += current[1] - current[0]
    return total
