"""The trades as CSV: every fill the filters leave, streamed, read from the database a chunk at a time.

A chunk is the next CHUNK_SIZE fills after the last one sent, in the list's order (newest first, by executed_at then
id): a keyset read, so each query is small and indexed and the server never holds more than a chunk, also on MySQL,
whose driver would otherwise fetch a whole result set at once. Numbers are exact decimal strings; times ISO 8601 in
TIME_ZONE, as the JSON list has them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from rest_framework.renderers import BaseRenderer

from exchanges.base import plain_number
from trading.models import Fill, Order
from trading.stats import strategies

CHUNK_SIZE = 2000
COLUMNS = (
    "id",
    "executed_at",
    "strategy",
    "strategy_name",
    "symbol",
    "side",
    "role",
    "client_order_id",
    "trade_id",
    "price",
    "amount",
    "quote_amount",
    "fee",
    "fee_currency",
)
# The fills' own columns: each chunk is read from the fills alone (newest first from their time index, no sort
# of every matching row), and the strategy's and order's columns are looked up per chunk.
_FIELDS = ("id", "executed_at", "strategy_id", "order_id", "side", "trade_id", "price", "amount", "fee", "fee_currency")
# A spreadsheet runs a cell that starts with one of these as a formula: a strategy's name must stay text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class CSVRenderer(BaseRenderer):
    """Names text/csv (and ?format=csv) for content negotiation; the list streams the body itself."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return b""  # never used: the list answers csv with a StreamingHttpResponse, errors in JSON


class _Line:
    """A file-like object whose write() returns the line: csv.writer formats, the response streams."""

    def write(self, value: str) -> str:
        return value


def csv_response(fills: QuerySet[Fill], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_lines(fills), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _lines(fills: QuerySet[Fill]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(COLUMNS)
    for row in _chunks(fills):
        yield writer.writerow(_cells(row))


def _chunks(fills: QuerySet[Fill]) -> Iterator[tuple[Any, ...]]:
    ordered = fills.order_by("-executed_at", "-id").values_list(*_FIELDS)
    names: dict[int, tuple[str, str]] = {}
    last: tuple[datetime, int] | None = None
    while True:
        page = ordered
        if last is not None:
            at, pk = last
            page = page.filter(Q(executed_at__lt=at) | Q(executed_at=at, id__lt=pk))
        rows = list(page[:CHUNK_SIZE])
        missing = {row[2] for row in rows} - names.keys()
        if missing:
            found = strategies().filter(pk__in=missing).values_list("pk", "name", "symbol")
            names.update({pk: (name, symbol) for pk, name, symbol in found})
        orders = dict(
            (pk, (role, client_id))
            for pk, role, client_id in Order.objects.filter(pk__in={row[3] for row in rows}).values_list(
                "pk", "role", "client_order_id"
            )
        )
        for pk, executed_at, strategy, order, side, trade_id, price, amount, fee, currency in rows:
            name, symbol = names[strategy]
            role, client_id = orders[order]
            yield pk, executed_at, strategy, name, symbol, side, role, client_id, trade_id, price, amount, fee, currency
        if len(rows) < CHUNK_SIZE:
            return
        last = (rows[-1][1], rows[-1][0])


def _cells(row: tuple[Any, ...]) -> list[str]:
    pk, executed_at, strategy, name, symbol, side, role, client_id, trade_id, price, amount, fee, currency = row
    if str(name).startswith(_FORMULA_START):
        name = f"'{name}"
    return [
        str(pk),
        timezone.localtime(executed_at).isoformat(),
        str(strategy),
        name,
        symbol,
        side,
        role,
        client_id,
        trade_id or "",
        _number(price),
        _number(amount),
        _number(price * amount),
        _number(fee),
        currency,
    ]


def _number(value: Decimal) -> str:
    return plain_number(value)
