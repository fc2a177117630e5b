"""A finished backtest's records, stored compactly: one JSON list per fill or lot, a line each, in compressed
chunks (a year of a tight grid is tens of thousands of fills; as rows of a table they would cost more to write than
the backtest took to run). Times are epoch milliseconds, money decimal strings."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from exchanges.base import plain_number
from exchanges.paper.feeds import EPOCH
from trading.backtest import BacktestResult
from trading.backtests.blobs import read_chunks, write_chunks
from trading.backtests.models import Backtest, BacktestChunk

FILLS = "fills"
POSITIONS = "positions"

FILL_FIELDS = ("time", "side", "role", "price", "amount", "fee", "fee_currency", "client_order_id")
POSITION_FIELDS = ("opened_at", "closed_at", "buy_price", "sell_price", "amount", "pnl", "exit_reason")


def _ms(at: datetime | None) -> int | None:
    return None if at is None else (at - EPOCH) // timedelta(milliseconds=1)


def _iso(ms: int | None) -> str | None:
    return None if ms is None else (EPOCH + timedelta(milliseconds=ms)).isoformat().replace("+00:00", "Z")


def fill_rows(result: BacktestResult) -> list[list[Any]]:
    roles = {order.client_order_id: order.role.value for order in result.orders}
    return [
        [
            _ms(fill.executed_at),
            fill.side.value,
            roles.get(fill.client_order_id, ""),
            plain_number(fill.price),
            plain_number(fill.amount),
            plain_number(fill.fee),
            fill.fee_currency,
            fill.client_order_id,
        ]
        for fill in result.fills
    ]


def position_rows(result: BacktestResult) -> list[list[Any]]:
    lots = [*result.closed_positions, *sorted(result.open_positions, key=lambda lot: lot.opened_at)]
    return [
        [
            _ms(lot.opened_at),
            _ms(lot.closed_at),
            plain_number(lot.entry_price),
            None if lot.exit_price is None else plain_number(lot.exit_price),
            plain_number(lot.quantity),
            None if lot.realized_pnl is None else plain_number(lot.realized_pnl),
            lot.exit_reason or None,
        ]
        for lot in lots
    ]


def encode(rows: Iterable[list[Any]]) -> bytes:
    return "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows).encode()


def save_records(backtest_id: int, kind: str, rows: Iterable[list[Any]]) -> int:
    """Write the rows (inside the caller's transaction); the compressed size."""
    return write_chunks(
        lambda i, data: BacktestChunk(backtest_id=backtest_id, kind=kind, index=i, data=data), encode(rows)
    )


def read_records(backtest: Backtest, kind: str) -> list[list[Any]]:
    chunks = BacktestChunk.objects.filter(backtest=backtest, kind=kind).order_by("index").values_list("data", flat=True)
    return [json.loads(line) for line in read_chunks(chunks.iterator(chunk_size=4)).splitlines() if line]


def fills_view(rows: Iterable[list[Any]]) -> list[dict[str, Any]]:
    return [{**dict(zip(FILL_FIELDS, row, strict=True)), "time": _iso(row[0])} for row in rows]


def positions_view(rows: Iterable[list[Any]]) -> list[dict[str, Any]]:
    return [
        {**dict(zip(POSITION_FIELDS, row, strict=True)), "opened_at": _iso(row[0]), "closed_at": _iso(row[1])}
        for row in rows
    ]


def equity_curve(result: BacktestResult) -> list[list[str]]:
    return [[at.isoformat().replace("+00:00", "Z"), plain_number(equity)] for at, equity in result.equity_curve]


def gaps(result: BacktestResult) -> list[dict[str, Any]]:
    return [
        {
            "start": gap.start.isoformat().replace("+00:00", "Z"),
            "end": gap.end.isoformat().replace("+00:00", "Z"),
            "seconds": int(gap.length.total_seconds()),
        }
        for gap in result.gaps
    ]
