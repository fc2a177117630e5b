"""A process trading one paper book, for the tests whose guarantee is about processes.

    python -m tests.paper.book_process KEY NAME ORDERS [--hold]

Places ORDERS limit buys at 29700 on BTC/USDT (a still price of 30000: none fills), printing `placed <id>` once the
exchange has accepted one and `refused <id>` when the funds are short, reading the open orders and the balances
between them as an engine's tick does; then `done`, and with --hold it waits to be killed.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal

SYMBOL = "BTC/USDT"


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from exchanges.base import InsufficientFunds, OrderRequest, OrderType, Side
    from exchanges.clock import SystemClock
    from exchanges.paper.exchange import PaperExchange
    from exchanges.paper.feeds import RandomWalkFeed
    from exchanges.paper.store import DbPaperStore

    key, name, orders = sys.argv[1], sys.argv[2], int(sys.argv[3])
    start = datetime.now(UTC)  # a walk computes every step since its start: a recent one costs nothing
    feed = RandomWalkFeed(start_price=Decimal(30000), start=start, tick=Decimal("0.01"), volatility_pct=Decimal(0))
    exchange = PaperExchange(DbPaperStore(key), feeds={SYMBOL: feed}, clock=SystemClock())
    for i in range(orders):
        cid = f"{name}{i}"
        request = OrderRequest(cid, SYMBOL, Side.BUY, OrderType.LIMIT, Decimal("0.001"), Decimal("29700.00"))
        try:
            exchange.place_order(request)
            print(f"placed {cid}", flush=True)
        except InsufficientFunds:
            print(f"refused {cid}", flush=True)
        exchange.fetch_price(SYMBOL)
        exchange.fetch_open_orders(SYMBOL)
        exchange.fetch_balance()
    print("done", flush=True)
    if "--hold" in sys.argv:
        time.sleep(3600)


if __name__ == "__main__":
    main()
