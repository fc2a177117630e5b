"""The engine's exchange, counting the orders it sends and the errors they come back with (aresbot.metrics).

Put around every engine's exchange by build_engine, whatever the exchange (CCXT, paper), so one place sees every
order; the runtime's lease fence goes around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aresbot import metrics
from exchanges.base import Exchange, ExchangeError, OrderNotSent, OrderRequest, OrderState, OrderStatus


class MeteredExchange:
    def __init__(self, inner: Exchange, exchange_id: str) -> None:
        self.inner = inner
        self._exchange_id = exchange_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def place_order(self, request: OrderRequest) -> OrderState:
        metrics.order_sent(self._exchange_id)
        try:
            state = self.inner.place_order(request)
        except ExchangeError as exc:
            metrics.order_rejected(self._exchange_id, type(exc).__name__)
            raise
        self._count_refusal(state)
        return state

    def place_orders(self, requests: Sequence[OrderRequest]) -> list[OrderState | ExchangeError]:
        results = self.inner.place_orders(requests)
        for result in results:
            if isinstance(result, OrderNotSent):
                continue  # never reached the exchange: neither sent nor refused
            metrics.order_sent(self._exchange_id)
            if isinstance(result, ExchangeError):
                metrics.order_rejected(self._exchange_id, type(result).__name__)
            else:
                self._count_refusal(result)
        return results

    def _count_refusal(self, state: OrderState) -> None:
        if state.status == OrderStatus.REJECTED:
            metrics.order_rejected(self._exchange_id, "OrderRejected")
