"""Every TRADING symbol of Binance spot's real exchangeInfo: a grid built at the symbol's price produces only
orders that pass its PRICE_FILTER, LOT_SIZE and MIN_NOTIONAL, or skips the level with a reason.

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

import pytest

from exchanges.base import MarketRules, OrderRejected, OrderRequest, OrderStatus, OrderType, Side
from exchanges.ccxt.client import make_client
from exchanges.ccxt.exchange import CcxtExchange
from tests.ccxt.fake_binance import (
    API_KEY,
    API_SECRET,
    FakeBinance,
    exchange_info_from_filters,
    filter_failure,
    fixture,
)
from trading.core.grid import GridStrategy, Level
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
        fake.prices[market_id] = price * 2
        fake.balances[quote] = [D("1e12"), D(0)]
        rules = adapter.market(symbol)
        config = EngineConfig(1, symbol, 3, D(1), D(1), D(filters["MIN_NOTIONAL"]["minNotional"]) * 20, D(1))
        for i, level in enumerate(GridStrategy(config, rules).ladder(price).levels):
            request = OrderRequest(f"ab1-{n}-{i}", symbol, Side.BUY, OrderType.LIMIT, level.amount, level.price)
            state = adapter.place_order(request)
            assert state.client_order_id == request.client_order_id
            sent += 1
    assert sent >= 60


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
