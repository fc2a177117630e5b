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
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.base import OrderRejected, OrderRequest, OrderType, Side
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
from trading.core.grid import GridStrategy
from trading.core.types import EngineConfig

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
