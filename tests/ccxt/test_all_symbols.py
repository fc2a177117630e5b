"""Every TRADING symbol of Binance spot's real exchangeInfo: a grid built at the symbol's price produces only
orders that pass its PRICE_FILTER, LOT_SIZE and MIN_NOTIONAL, or skips the level with a reason; the rules that
depend on the moment (PERCENT_PRICE around the current price, MARKET_LOT_SIZE, MAX_NUM_ORDERS, MAX_POSITION) are
read for every symbol, the engine sends nothing they refuse, and the paper exchange refuses what Binance refuses.

The filters are Binance's of 2021-10-12 for all 1,262 TRADING symbols (tests/fixtures/binance/
trading_symbols_filters.json). They go through the real CCXT Binance market parser (the fake transport serves them
as an exchangeInfo body), then `market_rules_from_ccxt`, the core's GridStrategy and the adapter's pre-send
checks and CCXT formatting. An order the code lets through is checked against Binance's filter rules written
independently in the fake (`filter_failure`, from Binance's documentation).

"Recent price": the 2021 exchangeInfo has no prices, so each symbol is priced from its own filters, the way Binance
sizes ticks: at 10^3, 10^4, 10^5 and 10^6 ticks (a tick of 0.01 gives prices of 10 to 10,000), each kept inside
PRICE_FILTER's [minPrice, maxPrice]. Sizes: 1.5× and 20× the symbol's MIN_NOTIONAL per level, so that some levels
fall below the minimums after rounding (and must be skipped) and others do not.

A level is placed only when its lot can be sold: for every symbol, with buys at the min notional, the lot of each
placed level — after the buy fee taken from the base received at the market's higher fee rate and rounded up to
Binance's 8 commission decimals — gets a take-profit that passes the symbol's filters; and the order size that a
skipped level's reason names does place that level, with a sellable lot.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import ROUND_CEILING
from decimal import Decimal as D
from typing import Any

import pytest

from exchanges.base import ZERO, MarketRules, OrderRejected, OrderRequest, OrderState, OrderStatus, OrderType, Side
from exchanges.ccxt.client import make_client
from exchanges.ccxt.exchange import CcxtExchange
from exchanges.clock import ManualClock
from exchanges.paper.book import InMemoryPaperStore
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.feeds import ManualFeed
from tests.ccxt.fake_binance import (
    API_KEY,
    API_SECRET,
    FakeBinance,
    exchange_info_from_filters,
    filter_failure,
    fixture,
)
from trading.core.engine import TradingEngine
from trading.core.grid import GridStrategy, Level
from trading.core.memory import InMemoryJournal, InMemoryStatusBoard
from trading.core.positions import PositionTracker
from trading.core.types import EngineConfig, OrderRecord, Role

TICKS = (D(10) ** 3, D(10) ** 4, D(10) ** 5, D(10) ** 6)
SIZES = (D("1.5"), D(20))


@pytest.fixture(scope="module")
def extract() -> dict:
    return fixture("trading_symbols_filters.json")


@pytest.fixture
def fake(extract) -> FakeBinance:
    """The installed transport serves all 1,262 symbols."""
    return FakeBinance(exchange_info=exchange_info_from_filters(extract))


@pytest.fixture
def every_symbol(transport: FakeBinance) -> tuple[CcxtExchange, FakeBinance]:
    client = make_client("binance", api_key=API_KEY, secret=API_SECRET)
    client.enableRateLimit = False  # no shared limiter here; CCXT's own pacing would only slow the test
    return CcxtExchange(client), transport


def prices_for(filters: dict) -> list[D]:
    pf = filters["PRICE_FILTER"]
    tick, low, high = D(pf["tickSize"]), D(pf["minPrice"]), D(pf["maxPrice"])
    return sorted({min(max(tick * n, low), high) for n in TICKS})


def prepared(adapter: CcxtExchange, request: OrderRequest) -> tuple[D, D] | str:
    """What the adapter would send, or its reason for refusing."""
    try:
        amount_text, price_text = adapter.prepare_order(request)
    except OrderRejected as exc:
        return str(exc)
    return D(amount_text), D(str(price_text))


def grid_orders(rules, symbol: str, price: D, order_size: D) -> tuple[list[tuple[Side, D, D]], int]:
    """The ladder's buys and each buy's take-profit at `price`, and how many the grid skipped with a reason."""
    config = EngineConfig(1, symbol, 5, D("0.7"), D("1.3"), order_size, D(1))
    grid = GridStrategy(config, rules)
    ladder = grid.ladder(price)
    assert all(reason.startswith("level ") and ": " in reason for reason in ladder.skipped)
    skipped = len(ladder.skipped)
    orders = []
    for level in ladder.levels:
        orders.append((Side.BUY, level.price, level.amount))
        take_profit = grid.take_profit_price(level.price)
        amount, problem = grid.sell_amount(level.amount, take_profit)
        if problem:
            skipped += 1
        else:
            orders.append((Side.SELL, take_profit, amount))
    return orders, skipped


def test_every_trading_symbol_gets_only_orders_that_pass_its_filters_or_skips_with_a_reason(every_symbol, extract):
    adapter, fake = every_symbol
    adapter.load_markets()
    assert len(extract["symbols"]) == 1262
    placed = skipped = 0
    for row in extract["symbols"]:
        symbol = adapter.client.markets_by_id[row[0]][0]["symbol"]
        filters = fake.filters[row[0]]
        rules = adapter.market(symbol)
        for price in prices_for(filters):
            for size in SIZES:
                orders, grid_skipped = grid_orders(
                    rules, symbol, price, D(filters["MIN_NOTIONAL"]["minNotional"]) * size
                )
                skipped += grid_skipped
                for side, order_price, amount in orders:
                    result = prepared(
                        adapter, OrderRequest("ab1-1", symbol, side, OrderType.LIMIT, amount, order_price)
                    )
                    if isinstance(result, str):
                        assert result.startswith(f"{symbol}: ")  # refused before sending, with the reason
                        skipped += 1
                        continue
                    assert result == (amount, order_price), symbol
                    failure = filter_failure(filters, order_price, amount)
                    assert failure is None, f"{symbol}: {amount} @ {order_price} fails {failure}"
                    placed += 1
    assert placed > 70_000 and skipped > 10_000


def test_a_sample_of_symbols_is_accepted_by_the_fake_exchanges_own_filter_check(every_symbol, extract):
    """The whole path for every 40th symbol: signed POST, the fake checks the filters as Binance would."""
    adapter, fake = every_symbol
    adapter.load_markets()
    sent = 0
    for n, row in enumerate(extract["symbols"][::40]):
        market_id, quote = row[0], row[2]
        symbol = adapter.client.markets_by_id[market_id][0]["symbol"]
        filters = fake.filters[market_id]
        price = prices_for(filters)[1]
        fake.prices[market_id] = price * D("1.1")  # the buys rest below it, inside PERCENT_PRICE's band
        fake.balances[quote] = [D("1e12"), D(0)]
        rules = adapter.market(symbol)
        config = EngineConfig(1, symbol, 3, D(1), D(1), D(filters["MIN_NOTIONAL"]["minNotional"]) * 20, D(1))
        for i, level in enumerate(GridStrategy(config, rules).ladder(price).levels):
            request = OrderRequest(f"ab1-{n}-{i}", symbol, Side.BUY, OrderType.LIMIT, level.amount, level.price)
            state = adapter.place_order(request)
            assert state.client_order_id == request.client_order_id
            sent += 1
    assert sent >= 60


def test_every_trading_symbols_moment_rules_are_read_from_its_filters(every_symbol, extract):
    adapter, _ = every_symbol
    adapter.load_markets()
    narrow = 0
    for row in extract["symbols"]:
        column = dict(zip(extract["columns"], row, strict=True))
        rules = adapter.market(adapter.client.markets_by_id[row[0]][0]["symbol"])
        band = (D(column["PERCENT_PRICE.multiplierDown"]), D(column["PERCENT_PRICE.multiplierUp"]))
        assert rules.buy_band is not None and rules.sell_band is not None
        assert (rules.buy_band.down, rules.buy_band.up) == (rules.sell_band.down, rules.sell_band.up) == band
        assert rules.max_open_orders == column["MAX_NUM_ORDERS.maxNumOrders"] == 200
        assert rules.market_max_amount == D(column["MARKET_LOT_SIZE.maxQty"] or 0)
        assert rules.max_position == D(column["MAX_POSITION.maxPosition"] or 0)
        narrow += band == (D("0.8"), D("1.2"))
    assert narrow == 28


class CheckedPaper(PaperExchange):
    """The paper exchange, every order also put to Binance's filter rules as the fake writes them (independently
    of MarketRules), against the book as it is when the order arrives."""

    def __init__(self, filters: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters = filters
        self.failures: list[str] = []
        self.sent = 0

    def place_order(self, request: OrderRequest) -> OrderState:
        rules = self.market(request.symbol)
        with self.store.session() as book:
            mine = [o for o in book.open_orders.values() if o.symbol == request.symbol]
            held = book.balance(rules.base)
            position = held.total + sum((o.remaining for o in mine if o.side is Side.BUY), ZERO)
        failure = filter_failure(
            self.filters,
            request.price,
            request.amount,
            side=request.side.value.upper(),
            average=self.feeds[request.symbol].price_at(self.clock.now()),
            open_orders=len(mine),
            position=position,
        )
        self.sent += 1
        if failure:
            self.failures.append(f"{request.symbol} {request.side} {request.amount} @ {request.price}: {failure}")
        return super().place_order(request)


def engine_on_paper(rules: MarketRules, filters: dict[str, Any], price: D) -> tuple[TradingEngine, CheckedPaper]:
    """A grid whose deepest levels (−35 %) and take-profits (+30 %) reach past the narrow PERCENT_PRICE bands."""
    clock = ManualClock(datetime(2021, 10, 12, tzinfo=UTC))
    paper = CheckedPaper(
        filters,
        InMemoryPaperStore({rules.quote: "1e30"}),
        feeds={rules.symbol: ManualFeed(clock, price)},
        markets={rules.symbol: rules},
        clock=clock,
    )
    config = EngineConfig(1, rules.symbol, 5, D(7), D(30), rules.min_notional * 20, D(50), max_positions=250)
    engine = TradingEngine(
        config, exchange=paper, journal=InMemoryJournal(), status_board=InMemoryStatusBoard(), clock=clock
    )
    return engine, paper


@pytest.mark.slow
def test_the_engine_sends_no_order_binance_would_refuse_on_any_trading_symbol(every_symbol, extract):
    """Over every symbol: the ladder at the symbol's price, then a 30 % fall that fills part of it, then the
    take-profits. Every order reaching the paper exchange passes Binance's rules, the paper exchange refuses
    none, and what waits (the levels and take-profits outside the band) is in the status with the reason."""
    adapter, fake = every_symbol
    adapter.load_markets()
    sent = band_waits = position_waits = told = 0
    for row in extract["symbols"]:
        rules = adapter.market(adapter.client.markets_by_id[row[0]][0]["symbol"])
        filters = fake.filters[row[0]]
        price = prices_for(filters)[1]
        engine, paper = engine_on_paper(rules, filters, price)
        engine.start()
        fallen = rules.price_down(price * D("0.7"))
        for now in (fallen, fallen):
            engine.clock.advance(60)  # type: ignore[attr-defined]
            paper.feeds[rules.symbol].set(now)  # type: ignore[attr-defined]
            status = engine.tick()
        assert paper.failures == []
        assert engine.last_error == ""
        assert [o for o in engine.journal.orders.values() if o.status is OrderStatus.REJECTED] == []  # type: ignore[attr-defined]
        waits = [w for w in (*status.skipped_levels, *status.notes) if " waits: " in w]
        assert all("(PERCENT_PRICE)" in w or "(MAX_POSITION)" in w for w in waits), waits
        told += any("(MAX_NUM_ORDERS)" in n for n in status.notes)
        sent += paper.sent
        band_waits += any("(PERCENT_PRICE)" in w for w in waits)
        position_waits += any("(MAX_POSITION)" in w for w in waits)
    assert sent > 5_000
    assert band_waits == 28  # the symbols with PERCENT_PRICE 0.8–1.2: their deep levels and high take-profits wait
    assert position_waits > 0  # leveraged tokens' MAX_POSITION
    assert told == 1262  # max_positions 250 can exceed the 200 open orders allowed: the status says so


def probes(rules: MarketRules, reference: D) -> list[tuple[Side, D | None, D]]:
    """(side, price (None: at market), amount) at the edges of every rule that depends on the moment."""
    assert rules.buy_band is not None
    tick = rules.tick_size
    edges = [
        rules.price_up(reference * rules.buy_band.down),
        rules.price_down(reference * rules.buy_band.up),
    ]
    prices = sorted({p for e in edges for p in (e - tick, e, e + tick) if p > 0})
    orders: list[tuple[Side, D | None, D]] = []
    for price in prices:
        amount = max(rules.min_amount, rules.amount_down(rules.min_notional / price) + rules.step_size)
        for side in (Side.BUY, Side.SELL):
            orders.append((side, price, amount))
    if rules.market_max_amount:
        for amount in (rules.market_max_amount, rules.market_max_amount + rules.step_size):
            orders.append((Side.SELL, None, rules.amount_down(amount)))
    return orders


@pytest.mark.slow
def test_the_paper_exchange_refuses_what_binance_refuses_on_every_trading_symbol(every_symbol, extract):
    """At the edges of the price band, of the market order amounts and of the open-order cap: the engine's rules,
    Binance's rules written independently in the fake, and the paper exchange give the same verdict."""
    adapter, fake = every_symbol
    adapter.load_markets()
    verdicts = {"accepted": 0, "refused": 0}
    for n, row in enumerate(extract["symbols"]):
        rules = adapter.market(adapter.client.markets_by_id[row[0]][0]["symbol"])
        filters = fake.filters[row[0]]
        reference = prices_for(filters)[1]
        clock = ManualClock(datetime(2021, 10, 12, tzinfo=UTC))
        orders = probes(rules, reference)
        selling = sum((amount for side, _, amount in orders if side is Side.SELL), ZERO)
        paper = PaperExchange(
            InMemoryPaperStore({rules.quote: "1e30", rules.base: selling}),
            feeds={rules.symbol: ManualFeed(clock, reference)},
            markets={rules.symbol: rules},
            clock=clock,
        )
        for i, (side, price, amount) in enumerate(orders):
            with paper.store.session() as book:
                mine = [o for o in book.open_orders.values() if o.symbol == rules.symbol]
                position = book.balance(rules.base).total + sum((o.remaining for o in mine if o.side is Side.BUY), ZERO)
            binance = filter_failure(
                filters,
                price,
                amount,
                side=side.value.upper(),
                average=reference,
                open_orders=len(mine),
                position=position,
            )
            ours = (
                rules.refusal(price, amount, market=price is None)
                or (rules.price_band_refusal(side, price, reference) if price is not None else None)
                or rules.open_orders_refusal(len(mine))
                or (rules.position_refusal(position, amount) if side is Side.BUY else None)
            )
            kind = OrderType.MARKET if price is None else OrderType.LIMIT
            try:
                paper.place_order(OrderRequest(f"p{i}", rules.symbol, side, kind, amount, price))
                refused_by_paper = False
            except OrderRejected:
                refused_by_paper = True
            assert (binance is not None) == (ours is not None) == refused_by_paper, (rules.symbol, side, price, amount)
            verdicts["refused" if refused_by_paper else "accepted"] += 1
        if n % 40 == 0:  # the open-order cap, on every 40th symbol: 200 resting buys, then one more
            price = rules.price_up(reference * D("0.9"))
            amount = max(rules.min_amount, rules.amount_down(rules.min_notional / price) + rules.step_size)
            with paper.store.session() as book:
                resting = sum(1 for o in book.open_orders.values() if o.symbol == rules.symbol)
            for i in range(resting, 200):
                paper.place_order(OrderRequest(f"c{i}", rules.symbol, Side.BUY, OrderType.LIMIT, amount, price))
            assert filter_failure(filters, price, amount, average=reference, open_orders=200) == "MAX_NUM_ORDERS"
            assert rules.open_orders_refusal(200) is not None
            with pytest.raises(OrderRejected, match="MAX_NUM_ORDERS"):
                paper.place_order(OrderRequest("c200", rules.symbol, Side.BUY, OrderType.LIMIT, amount, price))
    assert verdicts["accepted"] > 10_000 and verdicts["refused"] > 5_000


COMMISSION = D("1e-8")  # Binance's baseCommissionPrecision
SUGGESTED = re.compile(r"; the smallest order size that places it is ([0-9.]+) ")
# The reasons a level is skipped that no order size changes: its price, or its take-profit's, or a collapse.
NOT_A_SIZE_PROBLEM = re.compile(
    r"no order size can place this level$|rounds to zero or below$|the (minimum|maximum) price [0-9.]+$|below the tick"
)


def smallest_buy(rules: MarketRules, price: D) -> D:
    """The order size whose buy at `price` is the smallest one the min amount and min notional allow."""
    steps = (max(rules.min_notional / price, rules.min_amount) / rules.step_size).to_integral_value(ROUND_CEILING)
    return steps * rules.step_size * price


def worst_lot_sells(adapter: CcxtExchange, filters: dict, grid: GridStrategy, symbol: str, level: Level) -> str | None:
    """Why the lot of `level`'s buy, filled at its price with the whole fee taken in base, could not be sold at its
    take-profit as the engine would place it; None when the adapter and Binance's filters accept that sell."""
    rules = grid.rules
    fee = (level.amount * max(rules.maker_fee, rules.taker_fee)).quantize(COMMISSION, ROUND_CEILING)
    buy = OrderRecord(
        "ab1-1",
        symbol,
        Side.BUY,
        OrderType.LIMIT,
        Role.GRID_BUY,
        level.amount,
        level.price,
        datetime(2021, 10, 12, tzinfo=UTC),
        OrderStatus.FILLED,
        filled=level.amount,
        cost=level.amount * level.price,
        fee=fee,
        fee_currency=rules.base,
    )
    [lot] = PositionTracker(rules).open_lot(buy)
    target, amount, problem = grid.take_profit(lot)
    if problem:
        return problem
    if target < level.price * (1 + grid.config.sell_offset_pct / 100) and target != rules.price_down(rules.max_price):
        return f"take-profit {target} is below the level's target"
    result = prepared(adapter, OrderRequest("ab1-2", symbol, Side.SELL, OrderType.LIMIT, amount, target))
    if isinstance(result, str):
        return result
    return filter_failure(filters, target, amount)


@pytest.mark.slow
def test_every_placed_level_of_every_trading_symbol_can_sell_its_lot_and_a_skipped_one_names_a_size_that_works(
    every_symbol, extract
):
    adapter, fake = every_symbol
    adapter.load_markets()
    placed = suggested = 0
    unsellable: list[str] = []
    for row in extract["symbols"]:
        symbol = adapter.client.markets_by_id[row[0]][0]["symbol"]
        filters = fake.filters[row[0]]
        rules = adapter.market(symbol)

        def grid_of(order_size: D, symbol: str = symbol, rules: MarketRules = rules) -> GridStrategy:
            return GridStrategy(EngineConfig(1, symbol, 5, D("0.7"), D("1.3"), order_size, D(1)), rules)

        for price in prices_for(filters):
            # Buys at the min notional (the smallest buy the filters allow at the first level), and 5 % above it.
            for size in (smallest_buy(rules, rules.price_down(price * D("0.993"))), rules.min_notional * D("1.05")):
                grid = grid_of(size)
                ladder = grid.ladder(price)
                for level in ladder.levels:
                    placed += 1
                    problem = worst_lot_sells(adapter, filters, grid, symbol, level)
                    if problem:
                        unsellable.append(f"{symbol} {level}: {problem}")
                for reason in ladder.skipped:
                    found = SUGGESTED.search(reason)
                    if found is None:
                        assert NOT_A_SIZE_PROBLEM.search(reason), reason
                        continue
                    suggested += 1
                    index = int(reason.split(" ", 2)[1])
                    bigger = grid_of(D(found[1]))
                    now_placed = next((lv for lv in bigger.ladder(price).levels if lv.index == index), None)
                    if now_placed is None:
                        unsellable.append(f"{symbol}: {found[1]} does not place level {index} at {price}: {reason}")
                        continue
                    problem = worst_lot_sells(adapter, filters, bigger, symbol, now_placed)
                    if problem:
                        unsellable.append(f"{symbol} {now_placed} at the suggested size: {problem}")
    assert unsellable == []
    assert placed > 9_000 and suggested > 30_000
