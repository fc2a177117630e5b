"""OrderGate: the engine's last look before it drafts an order, and its memory of what the exchange refused.

The market's static rules (tick, step, minimum and maximum amount and notional, price range: MarketRules.refusal)
are the grid's. The gate checks what depends on the moment, so that nothing is sent that the exchange would refuse:

- the open-order cap (Binance MAX_NUM_ORDERS, per symbol and account): the engine's active orders, the other open
  orders on the symbol that the last sync saw, and the orders admitted this tick;
- the price band (PERCENT_PRICE, PERCENT_PRICE_BY_SIDE) around the current price. Binance measures it from the
  average price of the last few minutes, which the engine does not see, so a price this close to the edge may
  still be refused there: that refusal is held back like any other (below);
- MAX_POSITION for buys, as far as the engine's own lots, dust and buys show the position.

What the exchange refused anyway is not sent again every tick. After the n-th refusal in a row an order waits
min(loop_interval × 2ⁿ, 5 min). A refusal for insufficient funds holds back every order that spends the same asset
(quote for buys, base for sells); when the wait is over, one balance read decides, not another order: the orders
go that the free balance covers, the others wait again. The wait ends early when the engine sees the free balance
change: a lot closed (quote came in), one of its orders was canceled, or a balance check reads a different free
amount. The status says what waits, why, and when it is tried again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from exchanges.base import ZERO, Balance, ExchangeError, InsufficientFunds, MarketRules, Side, plain_number

LONGEST_WAIT = timedelta(minutes=5)
_QUOTE_QUANTUM = Decimal("0.00000001")


def open_orders_problem(max_positions: int, grid_levels: int, cap: int, symbol: str) -> str | None:
    """Why a strategy can hold more open orders on `symbol` than the exchange's `cap` (0: none) allows, or None.

    Each open lot rests one take-profit and each grid buy is one order, and max positions counts both (see
    trading.core.risk), so a strategy can have max_positions orders open at once, whatever grid_levels is."""
    if not cap or max_positions <= cap:
        return None
    return (
        f"max_positions {max_positions} lets this strategy hold up to {max_positions} open orders on {symbol} "
        f"(a take-profit per open lot plus up to grid_levels {grid_levels} resting buys), above the exchange's "
        f"limit of {cap} open orders per symbol (MAX_NUM_ORDERS). Use max_positions {cap} or less."
    )


def _at(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


@dataclass(slots=True)
class Hold:
    """Orders held back after a refusal: until `until`, or sooner once `released`."""

    reason: str
    until: datetime
    refusals: int  # in a row
    free: Decimal | None = None  # a funds hold: the free balance when last read
    released: bool = False


class OrderGate:
    def __init__(
        self, rules: MarketRules, loop_interval: Decimal, balances: Callable[[], Mapping[str, Balance]]
    ) -> None:
        self.rules = rules
        self.loop = timedelta(seconds=float(loop_interval))
        self.balances = balances  # the exchange's balances, read at most once per tick by the engine
        self.holds: dict[str, Hold] = {}
        self._now = datetime.min.replace(tzinfo=UTC)
        self._price = ZERO
        self._open = 0
        self._position = ZERO
        self._spent: dict[str, Decimal] = {}  # per asset: what the orders admitted against a balance read need
        self._short: set[str] = set()  # assets an order waited for this tick

    # --- each tick ---------------------------------------------------------------------------------------------------
    def begin(self, now: datetime, price: Decimal, *, open_orders: int, position: Decimal) -> None:
        """The moment's figures: the current price, the open orders on the symbol, the base position."""
        self._now, self._price, self._open, self._position = now, price, open_orders, position
        self._spent.clear()
        self._short.clear()
        for key in [k for k, hold in self.holds.items() if hold.until + LONGEST_WAIT < now and not _funds(k)]:
            del self.holds[key]  # an order not tried again since its wait ended: its level or lot moved on

    def order_wait(self, side: Side, price: Decimal | None, *, lot: str | None = None) -> str | None:
        """Why this order waits: refused lately and its wait not over, or outside the price band; else None."""
        hold = self.holds.get(_key(side, price, lot))
        if hold is not None and self._now < hold.until:
            return f"{hold.reason}; next try at {_at(hold.until)}"
        if price is not None:
            return self.rules.price_band_refusal(side, price, self._price)
        return None

    def slot_wait(self, side: Side, amount: Decimal) -> str | None:
        """Why one more order does not fit: the open-order cap, or for a buy the maximum position; else None."""
        return self.rules.open_orders_refusal(self._open) or (
            self.rules.position_refusal(self._position, amount) if side is Side.BUY else None
        )

    def funds_wait(self, side: Side, price: Decimal | None, amount: Decimal) -> str | None:
        """Why this order waits for funds, or None. Once a funds wait is over, reads the balance (once a tick)."""
        asset = self._asset(side)
        hold = self.holds.get(_funds_key(asset))
        if hold is None:
            return None
        checked = asset in self._spent  # the balance was read this tick: orders that it covers may go
        if asset in self._short or (self._now < hold.until and not hold.released and not checked):
            return f"waiting for funds: {hold.reason}; next check at {_at(hold.until)}"
        balance = self.balances().get(asset)
        free = balance.free if balance is not None else ZERO
        spent = self._spent.get(asset, ZERO)
        need = self.need(side, price, amount)
        if spent + need <= free:
            self._spent[asset] = spent + need
            return None
        self._short.add(asset)
        what = f"{'a buy' if side is Side.BUY else 'a sell'} of {plain_number(amount)} {self.rules.base}"
        if price is not None:
            what += f" at {plain_number(price)}"
        hold = self._hold(
            _funds_key(asset),
            f"need {plain_number(need)} {asset} for {what}, {plain_number(free - spent)} {asset} free",
            free=free,
        )
        return f"waiting for funds: {hold.reason}; next check at {_at(hold.until)}"

    def take(self, side: Side, amount: Decimal) -> None:
        """An order was admitted: it takes a slot (and adds to the position, for a buy)."""
        self._open += 1
        if side is Side.BUY:
            self._position += amount

    def full(self) -> bool:
        return self.rules.open_orders_refusal(self._open) is not None

    def freed(self) -> None:
        """An order of ours was canceled this tick: its slot is free again."""
        self._open = max(self._open - 1, 0)

    # --- what the exchange answered ----------------------------------------------------------------------------------
    def accepted(self, side: Side, price: Decimal | None, *, lot: str | None = None) -> None:
        self.holds.pop(_key(side, price, lot), None)
        asset = self._asset(side)
        if asset not in self._short:  # an order of this tick still waits for the same funds: the wait stays
            self.holds.pop(_funds_key(asset), None)

    def refused(self, side: Side, price: Decimal | None, error: ExchangeError, *, lot: str | None = None) -> str:
        """Hold the order back (all orders spending the same asset, for insufficient funds); say until when."""
        what = f"{side.value} of {self.rules.symbol}"
        if price is not None:
            what += f" at {plain_number(price)}"
        reason = f"the exchange refused a {what} ({type(error).__name__}: {error})"
        if isinstance(error, InsufficientFunds):
            asset = self._asset(side)
            held = self.holds.get(_funds_key(asset))
            if asset not in self._short or held is None:  # one refusal a tick counts, however many orders it hit
                held = self._hold(_funds_key(asset), reason)
            self._short.add(asset)
            return f"waiting for funds: {held.reason}; next check at {_at(held.until)}"
        hold = self._hold(_key(side, price, lot), reason)
        return f"{hold.reason}; next try at {_at(hold.until)}"

    def reconfigure(self, loop_interval: Decimal) -> None:
        self.loop = timedelta(seconds=float(loop_interval))

    # --- signs that the free balance changed -------------------------------------------------------------------------
    def release(self, asset: str) -> None:
        """The engine saw `asset`'s free balance change (a lot closed, an order canceled): check it again now."""
        hold = self.holds.get(_funds_key(asset))
        if hold is not None:
            hold.released = True

    def saw_balances(self, balances: Mapping[str, Balance]) -> None:
        """A balance read: a funds wait ends when the free amount differs from the last one seen."""
        for key, hold in self.holds.items():
            if not _funds(key):
                continue
            balance = balances.get(key.removeprefix("funds:"))
            free = balance.free if balance is not None else ZERO
            if hold.free is not None and free != hold.free:
                hold.released = True
            hold.free = free

    # --- what waits, and until when (the backtester skips the time between: trading.backtest) ---------------------
    def waiting_until(self, side: Side, price: Decimal | None, *, lot: str | None = None) -> datetime | None:
        """Until when this order is held back by a refusal of its own; None when it is not."""
        hold = self.holds.get(_key(side, price, lot))
        return hold.until if hold is not None and self._now < hold.until else None

    def funds_held_until(self, side: Side) -> datetime | None:
        """Until when the orders spending this side's asset wait for funds without a balance read; None when
        they do not (no wait, or it ended or was released: the next such order reads the balance)."""
        hold = self.holds.get(_funds_key(self._asset(side)))
        return hold.until if hold is not None and not hold.released and self._now < hold.until else None

    def wakes(self) -> list[datetime]:
        """When the holds change by themselves: a wait ends, or a level's or exit's hold not tried again is
        dropped (see begin)."""
        times = []
        for key, hold in self.holds.items():
            if self._now < hold.until:
                times.append(hold.until)
            elif not _funds(key):
                times.append(hold.until + LONGEST_WAIT + timedelta(microseconds=1))
        return times

    # --- machinery ---------------------------------------------------------------------------------------------------
    def _hold(self, key: str, reason: str, *, free: Decimal | None = None) -> Hold:
        before = self.holds.get(key)
        refusals = before.refusals + 1 if before is not None else 1
        # The exponent is capped: a refusal repeated for hours (2⁵⁰ loops) would overflow timedelta.
        wait = min(self.loop * 2 ** min(refusals, 30), LONGEST_WAIT)
        if free is None and before is not None:
            free = before.free
        hold = self.holds[key] = Hold(reason, self._now + wait, refusals, free)
        return hold

    def _asset(self, side: Side) -> str:
        return self.rules.quote if side is Side.BUY else self.rules.base

    def need(self, side: Side, price: Decimal | None, amount: Decimal) -> Decimal:
        """What the order locks: a buy its notional and the fee at the higher rate (the paper exchange's reserve;
        Binance's is the notional alone), a sell its amount."""
        if side is Side.SELL:
            return amount
        rate = max(self.rules.maker_fee, self.rules.taker_fee)
        return (amount * (price or self._price) * (1 + rate)).quantize(_QUOTE_QUANTUM, ROUND_CEILING)


def _key(side: Side, price: Decimal | None, lot: str | None) -> str:
    """A buy is held back by its level (price), an exit by its lot."""
    return f"exit:{lot}" if lot is not None else f"{side.value}@{price}"


def _funds_key(asset: str) -> str:
    return f"funds:{asset}"


def _funds(key: str) -> bool:
    return key.startswith("funds:")
